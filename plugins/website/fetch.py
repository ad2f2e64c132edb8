"""Fetching a site's pages politely, with httpx.

- One request at a time per host, ``host_delay`` seconds apart.
- ``robots.txt`` is read once per origin (and again after ``robots_ttl``) and obeyed
  for the ``outreach`` agent, as RFC 9309 says: a 4xx means no rules, a 5xx or an
  unreachable server means nothing may be fetched; the rules are matched by protego,
  which implements the RFC's ``*`` and ``$`` patterns and longest-match precedence
  (the standard library's parser takes the first matching line instead).
- Redirects are followed one hop at a time, so every hop is polite and allowed.
- Each page has a total time limit (a server that trickles bytes cannot hold a lead
  forever) and a size cap (the body is streamed and cut); bodies of non-HTML
  responses and of errors are not downloaded at all.
- ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY`` apply (httpx ``trust_env``), unless
  ``[plugins.website] proxy`` names one proxy for everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import msgspec
from protego import Protego

from .options import WebsiteOptions
from .page import absolute

#: The name ``robots.txt`` groups are matched against.
ROBOTS_AGENT = "outreach"
ROBOTS_LIMIT = 500_000
_HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
_ACCEPT = "text/html,application/xhtml+xml;q=0.9,text/plain;q=0.8,*/*;q=0.5"


class Fetched(msgspec.Struct, kw_only=True):
    """One page as it was fetched (or why it was not)."""

    url: str
    final_url: str
    status: int | None = None
    content_type: str | None = None
    charset: str | None = None
    body: bytes = b""
    truncated: bool = False
    redirects: list[str] = []
    error: str | None = None
    blocked: bool = False

    @property
    def ok(self) -> bool:
        """Whether the page answered with a success."""
        return self.error is None and not self.blocked and self.status is not None and self.status < 400

    @property
    def readable(self) -> bool:
        """Whether the page is a success whose body is HTML or text worth parsing."""
        return self.ok and (not self.content_type or self.content_type in _HTML_TYPES)


@functools.cache
def _tls() -> ssl.SSLContext:
    # Building a context loads the CA bundle (milliseconds); one per process is enough.
    return httpx.create_ssl_context()


@dataclass
class _Host:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last: float = float("-inf")


class _Rules:
    """A site's robots rules, or a blanket answer when it has none or could not be asked."""

    def __init__(self, parser: Protego | None, allow_all: bool, note: str) -> None:
        self.parser, self.allow_all, self.note = parser, allow_all, note

    def allows(self, url: str) -> bool:
        if self.parser is not None:
            return bool(self.parser.can_fetch(url, ROBOTS_AGENT))
        return self.allow_all


class Fetcher:
    """Polite fetching shared by every lead of a run: host turns and robots rules live here."""

    def __init__(self, options: WebsiteOptions) -> None:
        self.options = options
        self._hosts: dict[str, _Host] = {}
        self._robots: dict[str, tuple[float, asyncio.Future[_Rules]]] = {}

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[httpx.AsyncClient]:
        """An HTTP client for the pages of one lead, closed afterwards."""
        options = self.options
        async with httpx.AsyncClient(
            headers={"User-Agent": options.user_agent, "Accept": _ACCEPT},
            timeout=httpx.Timeout(options.timeout, connect=min(options.timeout, options.connect_timeout)),
            follow_redirects=False,
            proxy=options.proxy,
            trust_env=True,
            verify=_tls(),
        ) as client:
            yield client

    async def fetch(self, client: httpx.AsyncClient, url: str) -> Fetched:
        """Fetch ``url``, following redirects hop by hop, each one allowed by its robots rules."""
        hops: list[str] = []
        current = url
        for _ in range(self.options.max_redirects + 1):
            rules = await self.rules(client, current)
            if not rules.allows(current):
                return Fetched(
                    url=url,
                    final_url=current,
                    redirects=hops,
                    blocked=True,
                    error=f"robots.txt: {rules.note}",
                )
            fetched, location = await self._get(client, current, self.options.max_bytes)
            if location is None:
                fetched.url, fetched.redirects = url, hops
                return fetched
            hops.append(current)
            current = location
        return Fetched(
            url=url,
            final_url=current,
            redirects=hops,
            error=f"more than {self.options.max_redirects} redirects",
        )

    async def rules(self, client: httpx.AsyncClient, url: str) -> _Rules:
        """The robots rules for ``url``'s origin, fetched once per origin and shared."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        now = time.monotonic()
        cached = self._robots.get(origin)
        stale = cached is None or cached[0] < now
        if not stale and cached[1].done() and (cached[1].cancelled() or cached[1].exception()):
            stale = True  # the lead that started the fetch was stopped mid-way: ask again
        if stale:
            if len(self._robots) > 10_000:
                self._robots = {k: v for k, v in self._robots.items() if v[0] >= now}
            cached = (now + self.options.robots_ttl, asyncio.ensure_future(self._load_rules(client, origin)))
            self._robots[origin] = cached
        # Shielded: a lead that gives up waiting must not cancel the fetch others wait for.
        return await asyncio.shield(cached[1])

    async def _load_rules(self, client: httpx.AsyncClient, origin: str) -> _Rules:
        url = f"{origin}/robots.txt"
        for _ in range(5):
            fetched, location = await self._get(client, url, ROBOTS_LIMIT, any_type=True)
            if location is None:
                break
            url = location
        else:
            return _Rules(None, True, "robots.txt redirects too often; treated as absent")
        if fetched.error is not None:
            return _Rules(None, False, f"could not be read ({fetched.error})")
        assert fetched.status is not None
        if fetched.status >= 500:
            return _Rules(None, False, f"answered {fetched.status}, so nothing may be fetched")
        if fetched.status >= 400:
            return _Rules(None, True, "absent")
        return _Rules(robots_rules(fetched.body), True, f"disallows this page for {ROBOTS_AGENT}")

    @contextlib.asynccontextmanager
    async def _turn(self, host: str) -> AsyncIterator[None]:
        """Wait for this host's turn: one request at a time, ``host_delay`` apart."""
        state = self._hosts.get(host)
        if state is None:
            if len(self._hosts) > 10_000:
                self._hosts = {k: v for k, v in self._hosts.items() if v.lock.locked()}
            state = self._hosts[host] = _Host()
        async with state.lock:
            wait = state.last + self.options.host_delay - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                yield
            finally:
                state.last = time.monotonic()

    async def _get(
        self, client: httpx.AsyncClient, url: str, limit: int, *, any_type: bool = False
    ) -> tuple[Fetched, str | None]:
        """One request: the page, or the next location of a redirect."""
        async with self._turn((urlsplit(url).hostname or "").lower()):
            try:
                async with asyncio.timeout(self.options.timeout):
                    return await self._stream(client, url, limit, any_type)
            except TimeoutError:
                return Fetched(
                    url=url, final_url=url, error=f"timed out after {self.options.timeout:g} s"
                ), None
            except httpx.TimeoutException:
                return Fetched(url=url, final_url=url, error="timed out"), None
            except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
                return Fetched(url=url, final_url=url, error=_describe(exc)), None

    async def _stream(
        self, client: httpx.AsyncClient, url: str, limit: int, any_type: bool
    ) -> tuple[Fetched, str | None]:
        async with client.stream("GET", url) as response:
            status = response.status_code
            location = response.headers.get("location")
            if status in (301, 302, 303, 307, 308) and location:
                target = absolute(url, location)
                if target is not None:
                    return Fetched(url=url, final_url=url, status=status), target
            content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower() or None
            fetched = Fetched(
                url=url,
                final_url=str(response.url),
                status=status,
                content_type=content_type,
                charset=response.charset_encoding,
            )
            if status >= 400 or not (any_type or not content_type or content_type in _HTML_TYPES):
                return fetched, None
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > limit:
                    del body[limit:]
                    fetched.truncated = True
                    break
            fetched.body = bytes(body)
            return fetched, None


def robots_rules(body: bytes) -> Protego:
    """The rules of a ``robots.txt`` body (UTF-8, as RFC 9309 says; bad bytes replaced)."""
    return Protego.parse(body.decode("utf-8", errors="replace"))


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {text}"[:200] if text else name
