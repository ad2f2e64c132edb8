"""Who may use the app, and proof that a form came from it.

Three layers, all ASGI middleware:

- the *host check*: a request must name this outreach in its ``Host`` header (the
  bound address, a loopback name, the host of ``[web] public_url`` or one of
  ``[web] allowed_hosts``). Without it a web page elsewhere could rebind its own name to
  127.0.0.1 and read the app from the visitor's browser (DNS rebinding): the browser
  would think it talks to that page's site, and send that site's name as the Host.
- the *access gate*: when ``[web] access_token`` is set, every request must carry it,
  either as ``Authorization: Bearer <token>`` (scripts) or as the HttpOnly session
  cookie the login form sets (browsers). ``/login``, ``/static/`` and ``/healthz`` stay
  open. Without a token the app is reachable only on loopback (``serve`` refuses other
  addresses).
- *CSRF*: every unsafe request (POST, PUT, PATCH, DELETE) must echo the CSRF cookie in
  the ``x-csrftoken`` header or the ``_csrf_token`` form field (Litestar's double-submit
  check). A request that proved itself with the bearer token is exempt: a bearer header
  is never sent by a browser on its own, so a forged cross-site request cannot carry it.

The links in emails (``/t/`` for the open pixel and tracked links, ``/u/`` for
unsubscribing) are opened by the recipients' mail clients, which have neither the
access token nor a CSRF cookie: those paths, and only those, are exempt from both
layers. Each of their requests carries a signed token instead, and a forged or altered
one is answered 404 without any change.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import structlog
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.middleware.csrf import CSRFMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from outreach.kernel.config import Settings
from outreach.kernel.errors import ConfigError
from outreach.kernel.request_context import current_request_id

if TYPE_CHECKING:
    from outreach.kernel.runtime import Runtime

log = structlog.get_logger("outreach.web")

#: The session cookie a successful login sets.
SESSION_COOKIE = "outreach_session"
#: The cookie holding the CSRF token.
CSRF_COOKIE = "outreach_csrf"
CSRF_HEADER = "x-csrftoken"
#: Where the scope records how a request proved who it is (``bearer`` or ``cookie``).
AUTH_SCOPE_KEY = "outreach_auth"
#: Paths reachable without the access token (exact, or a prefix when ending in ``/``).
OPEN_PATHS = ("/login", "/healthz", "/static/")
#: Paths of the links in emails: reachable by recipients, without the access token or CSRF.
RECIPIENT_PATHS = ("/t/", "/u/")
#: Names of this machine every request may use, whatever the configuration.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")

Middleware = Callable[[ASGIApp], ASGIApp]


class AccessGate:
    """Checks the access token in a bearer header or a session cookie."""

    def __init__(self, token: str | None, key: bytes) -> None:
        self._token = token
        self._key = key

    @classmethod
    def from_settings(cls, settings: Settings, key: bytes) -> AccessGate:
        """The gate ``[web] access_token`` asks for (resolved now, so a missing secret stops start-up)."""
        ref = settings.web.access_token
        return cls(ref.resolve() if ref is not None else None, key)

    @property
    def enabled(self) -> bool:
        """Whether requests need the token at all."""
        return bool(self._token)

    def token_matches(self, candidate: str | None) -> bool:
        """Whether ``candidate`` is the access token (compared in constant time)."""
        if not self._token or not candidate:
            return False
        return hmac.compare_digest(candidate.encode(), self._token.encode())

    def session_value(self) -> str:
        """The session cookie's value: a keyed digest of the token, never the token itself."""
        return hmac.new(self._key, (self._token or "").encode(), hashlib.sha256).hexdigest()

    def identify(self, connection: ASGIConnection) -> str | None:
        """``bearer``, ``cookie`` or None: how (if at all) a request proved it may come in."""
        scheme, _, credentials = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self.token_matches(credentials.strip()):
            return "bearer"
        cookie = connection.cookies.get(SESSION_COOKIE)
        if cookie and hmac.compare_digest(cookie, self.session_value()):
            return "cookie"
        return None


def is_open_path(path: str) -> bool:
    """Whether ``path`` is reachable without the access token."""
    return is_recipient_path(path) or any(
        path.startswith(p) if p.endswith("/") else path == p for p in OPEN_PATHS
    )


def is_recipient_path(path: str) -> bool:
    """Whether ``path`` is a link in an email (the pixel, a tracked link, unsubscribing)."""
    return path.startswith(RECIPIENT_PATHS)


def safe_next(target: str | None) -> str:
    """A local path to return to after login (anything else becomes ``/``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def access_middleware(gate: AccessGate) -> Middleware:
    """Middleware refusing requests without the access token (a no-op when none is configured)."""

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or not gate.enabled:
                await app(scope, receive, send)
                return
            connection: ASGIConnection = ASGIConnection(scope)
            how = gate.identify(connection)
            if how is not None:
                scope[AUTH_SCOPE_KEY] = how  # type: ignore[literal-required]
                await app(scope, receive, send)
                return
            if is_open_path(scope["path"]):
                await app(scope, receive, send)
                return
            await _refuse(connection, send)

        return middleware

    return factory


async def _refuse(connection: ASGIConnection, send: Send) -> None:
    """Answer an unauthenticated request: JSON 401 for scripts, the login page for people."""
    path = connection.scope["path"]
    log.info("access_refused", path=path)
    query = connection.scope.get("query_string", b"").decode("latin-1")
    login = "/login?next=" + quote(path + (f"?{query}" if query else ""), safe="")
    if path.startswith("/api/") or "application/json" in connection.headers.get("accept", ""):
        body = json.dumps(
            {
                "error": "This outreach needs its access token: send 'Authorization: Bearer <token>'.",
                "status": 401,
                "request_id": current_request_id(),
            }
        ).encode()
        await _answer(
            send,
            401,
            body,
            [(b"content-type", b"application/json"), (b"www-authenticate", b'Bearer realm="outreach"')],
        )
    elif connection.headers.get("hx-request") == "true":
        # htmx does not swap a 401; HX-Redirect sends the whole tab to the login form.
        await _answer(send, 401, b"Log in again.", [(b"hx-redirect", login.encode())])
    else:
        await _answer(
            send,
            303,
            b"",
            [(b"location", login.encode()), (b"content-type", b"text/plain; charset=utf-8")],
        )


def csrf_config(secret: str) -> CSRFConfig:
    """The CSRF settings: a SameSite=Strict cookie, the token in a header or form field."""
    return CSRFConfig(
        secret=secret, cookie_name=CSRF_COOKIE, cookie_samesite="strict", header_name=CSRF_HEADER
    )


def csrf_middleware(config: CSRFConfig) -> Middleware:
    """Litestar's CSRF check on every unsafe request, except those that carried the bearer token
    and the links in emails."""

    def factory(app: ASGIApp) -> ASGIApp:
        protected = CSRFMiddleware(app=app, config=config)

        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope.get(AUTH_SCOPE_KEY) == "bearer" or is_recipient_path(scope.get("path", "")):
                await app(scope, receive, send)
            else:
                await protected(scope, receive, send)

        return middleware

    return factory


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, settings: Settings) -> None:
    """Refuse to listen beyond loopback unless ``[web] access_token`` guards the app."""
    if is_loopback(host) or settings.web.access_token is not None:
        return
    raise ConfigError(
        f"Refusing to listen on {host}: without an access token anyone who can reach this address "
        "could read and change your leads. Set [web] access_token (for example "
        '"env:OUTREACH_ACCESS_TOKEN") in the config, or listen on 127.0.0.1.'
    )


def host_name(value: str) -> str:
    """The host part of a ``Host`` header or a configured name, comparable to others.

    Lower-cased, without the port, the brackets of an IPv6 address or a trailing dot;
    an IP address in its canonical spelling (``[0:0::1]:80`` and ``::1`` are the same).
    """
    name = value.strip().lower()
    if name.startswith("["):
        inside, closed, _ = name[1:].partition("]")
        name = inside if closed else ""
    elif name.count(":") == 1:
        # One colon is host:port; more is an IPv6 address without brackets.
        name = name.partition(":")[0]
    name = name.removesuffix(".")
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name


def listening_host(listening: str | None) -> str | None:
    """The host of a ``host:port`` as ``outreach serve`` records it (IPv6 hosts have colons)."""
    if not listening:
        return None
    return listening.rpartition(":")[0] or listening


def allowed_hosts(settings: Settings, *bound: str | None) -> frozenset[str]:
    """Every name a request may give as its Host: loopback, the bound addresses ``bound``,
    the host of ``[web] public_url`` and ``[web] allowed_hosts``."""
    public = urlsplit(settings.web.public_url).hostname if settings.web.public_url else None
    names: Iterable[str | None] = (
        *LOOPBACK_HOSTS,
        settings.web.host,
        *bound,
        public,
        *settings.web.allowed_hosts,
    )
    normalized = (host_name(name) for name in names if name)
    # A name that normalizes to nothing (a stray "[") must not admit requests without a Host.
    return frozenset(name for name in normalized if name)


def _request_host(scope: Scope) -> str:
    for key, value in scope.get("headers", ()):
        if key == b"host":
            return value.decode("latin-1")
    return ""


def host_middleware(runtime: Runtime) -> Middleware:
    """Middleware refusing (400) every request whose Host is not a name of this outreach.

    It reads the settings at each request, so names saved on the Settings page apply at
    once. Besides the configured names it accepts the address the server says the
    connection reached (the ASGI ``server``: the bound socket's address, as the client
    dialled it), since a name rebound by DNS never is an address.
    """

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] not in ("http", "websocket"):
                await app(scope, receive, send)
                return
            server = scope.get("server")
            names = allowed_hosts(
                runtime.settings, listening_host(runtime.listening), server[0] if server else None
            )
            given = _request_host(scope)
            if host_name(given) in names:
                await app(scope, receive, send)
                return
            log.warning("request_refused", reason="unknown_host", host=given[:100], path=scope["path"])
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": "unknown host"})
                return
            await _refuse_host(scope, send, given)

        return middleware

    return factory


async def _refuse_host(scope: Scope, send: Send, given: str) -> None:
    """Answer 400 with a sentence: JSON for scripts, plain text for people.

    Plain text rather than the app's error page: the page would carry the navigation
    and a CSRF token to whoever is asking, and this request is the one we distrust.
    """
    name = host_name(given)
    message = (
        f"This outreach does not answer to the name {name!r}. Open it at its own address "
        f"(http://localhost:<port>/ on this machine), or add {name!r} to [web] allowed_hosts "
        "in the config if that is how you reach it."
        if name
        else "This request names no host. Send a Host header with the address of this outreach."
    )
    request_id = current_request_id()
    accept = next((v for k, v in scope.get("headers", ()) if k == b"accept"), b"").decode("latin-1")
    if scope["path"].startswith("/api/") or "application/json" in accept:
        body = json.dumps({"error": message, "status": 400, "request_id": request_id}).encode()
        content_type = b"application/json"
    else:
        body = f"{message}\n(request {request_id})\n".encode()
        content_type = b"text/plain; charset=utf-8"
    await _answer(send, 400, body, [(b"content-type", content_type), (b"x-content-type-options", b"nosniff")])
