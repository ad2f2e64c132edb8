"""The mailboxes page: each sender identity, its policy, today's count, and a test email."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from outreach.web.rendering import render

from . import WEB_ACTOR, form, runtime


@get("/mailboxes", name="mailboxes", include_in_schema=False)
async def mailboxes_index(request: Request[Any, Any, Any]) -> Response[str]:
    """Every configured mailbox with its senders, cap, window and pacing."""
    return render(
        request,
        "mailboxes/index.html",
        {"mailboxes": await runtime(request).mailboxes.status(), "receipt": None},
    )


@post("/mailboxes/{name:str}/test", name="mailbox_test", include_in_schema=False)
async def mailbox_test(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[str]:
    """Send a test email now from mailbox ``name`` and say how it went."""
    data = await form(request)
    receipt = await runtime(request).mailboxes.send_test(name, data.get("to", "").strip(), actor=WEB_ACTOR)
    return render(
        request,
        "mailboxes/index.html",
        {"receipt": receipt, "name": name},
        block="test_result",
        fragment=True,
    )


@post("/mailboxes/{name:str}/resume", name="mailbox_resume", include_in_schema=False)
async def mailbox_resume(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[Any]:
    """Lift the pause of mailbox ``name``, then show the Mailboxes page again."""
    await runtime(request).mailboxes.resume(name, actor=WEB_ACTOR)
    return Redirect(f"/mailboxes#mailbox-{name}", status_code=303)
