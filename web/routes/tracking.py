"""The links in emails: the open pixel, tracked links, and unsubscribing (GET page, one-click POST).

Recipients' mail clients reach these without the access token and without CSRF
(see :mod:`outreach.web.security`); each request proves itself with a signed token.
A forged or altered token is answered 404 and changes nothing, and no answer shows
anything of the app (no navigation, no error details).
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Request, Response, get, post
from litestar.enums import MediaType
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from outreach.kernel import TRACKING_KEY, read_token
from outreach.kernel.errors import NotFound
from outreach.kernel.runtime import Runtime

from . import runtime

log = structlog.get_logger("outreach.web")

#: A transparent 1x1 GIF.
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
#: Nothing a recipient's client fetches is cached or leaks where it came from.
PRIVATE = {"Cache-Control": "no-store, private", "Referrer-Policy": "no-referrer"}
#: Who the audit log names when a recipient unsubscribes through a link.
RECIPIENT_ACTOR = "recipient"


def _key(rt: Runtime) -> bytes:
    return rt.plugins.context.signing_key(TRACKING_KEY)


def not_found() -> Response[str]:
    """The answer to a forged, altered or unknown token: nothing to see."""
    return Response("Not found", status_code=404, media_type=MediaType.TEXT, headers=PRIVATE)


@get("/t/o/{token:str}", name="track_open", include_in_schema=False)
async def track_open(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
    """The open pixel: record the open, answer the image."""
    rt = runtime(request)
    email_id = read_token(_key(rt), "open", token.removesuffix(".gif"))
    if email_id is None:
        return not_found()
    await rt.tracking.record("open", email_id, user_agent=request.headers.get("user-agent"))
    return Response(PIXEL, media_type="image/gif", headers=PRIVATE)


@get("/t/c/{token:str}", name="track_click", include_in_schema=False)
async def track_click(
    request: Request[Any, Any, Any], token: FromPath[str], u: FromQuery[str] = ""
) -> Response[Any]:
    """A tracked link: record the click, send the browser where the link leads."""
    rt = runtime(request)
    email_id = read_token(_key(rt), "click", token, u)
    if email_id is None or not u.lower().startswith(("http://", "https://")):
        return not_found()
    await rt.tracking.record("click", email_id, user_agent=request.headers.get("user-agent"), url=u[:2000])
    return Redirect(u, status_code=302, headers=PRIVATE)


def masked(address: str | None) -> str:
    """``owner@lead.example`` as ``o***r@lead.example``: enough to recognize, not to copy."""
    local, _, domain = (address or "").partition("@")
    if not domain:
        return "your address"
    shown = local[0] + "***" + local[-1] if len(local) > 2 else local[:1] + "***"
    return f"{shown}@{domain}"


async def _target(rt: Runtime, token: str) -> tuple[int | None, str | None]:
    """The email a valid unsubscribe token names (None if forged) and its address (None if erased)."""
    email_id = read_token(_key(rt), "unsubscribe", token)
    if email_id is None:
        return None, None
    try:
        email = await rt.emails.get(email_id)
    except NotFound:
        return email_id, None
    return email_id, email.to_address


def _page(request: Request[Any, Any, Any], context: dict[str, Any], status: int = 200) -> Response[str]:
    template = request.app.state.jinja.get_template("public/unsubscribe.html")
    return Response(
        template.render({**context, "action": request.url.path}),
        media_type=MediaType.HTML,
        status_code=status,
        headers=PRIVATE,
    )


@get("/u/{token:str}", name="unsubscribe_page", include_in_schema=False)
async def unsubscribe_page(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
    """The unsubscribe link's page: a button that confirms (a link scanner's GET changes nothing)."""
    rt = runtime(request)
    email_id, address = await _target(rt, token)
    if email_id is None:
        return not_found()
    done = address is None or await rt.suppressions.is_suppressed(address)
    return _page(request, {"done": done, "address": masked(address)})


@post("/u/{token:str}", name="unsubscribe", include_in_schema=False, status_code=200)
async def unsubscribe(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
    """Unsubscribe at once: the page's button, or a mail client's one-click POST (RFC 8058)."""
    rt = runtime(request)
    email_id, address = await _target(rt, token)
    if email_id is None:
        return not_found()
    body = (await request.body())[:200]
    how = "one-click" if b"List-Unsubscribe=One-Click" in body else "unsubscribe page"
    if address is not None:
        await rt.suppressions.add(address, reason="unsubscribed", source=how, actor=RECIPIENT_ACTOR)
        await rt.emails.mark_unsubscribed(email_id)
        email = await rt.emails.get(email_id)
        await rt.enrollment.stop(email.lead_id, f"the recipient unsubscribed ({how})", actor=RECIPIENT_ACTOR)
        log.info("recipient_unsubscribed", email_id=email_id, how=how)
    return _page(request, {"done": True, "address": masked(address)})
