"""The outbox page: emails by state, retry or cancel one, and the interrupted sends a person settles."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath

from outreach.kernel.errors import NotFound
from outreach.kernel.services.outbox import actions
from outreach.kernel.states import EmailState
from outreach.web.rendering import render

from . import WEB_ACTOR, optional_int, runtime

#: What each button does to one email.
ACTIONS = {
    "retry": actions.retry,
    "cancel": actions.cancel,
    "mark-sent": actions.mark_sent,
    "requeue": actions.requeue,
}


@get("/outbox", name="outbox", include_in_schema=False)
async def outbox_index(request: Request[Any, Any, Any]) -> Response[str]:
    """Emails newest first, filtered by state; an htmx request (a filter, a page) gets only the table."""
    rt = runtime(request)
    state = request.query_params.get("state") or None
    state = state if state in set(EmailState) else None
    page = await rt.emails.list(state, optional_int(request.query_params.get("page")) or 1, 50)
    attention = await rt.emails.list(needs_attention=True, per_page=200)
    return render(
        request,
        "outbox/index.html",
        {
            "page": page,
            "state": state,
            "states": list(EmailState),
            "counts": await rt.emails.count_by_state(),
            "attention": attention.items,
        },
        block="results",
    )


@post("/outbox/{email_id:int}/{action:str}", name="outbox_action", include_in_schema=False)
async def outbox_action(
    request: Request[Any, Any, Any], email_id: FromPath[int], action: FromPath[str]
) -> Response[str]:
    """Retry, cancel, mark sent or re-queue one email, and answer with its new row."""
    if action not in ACTIONS:
        raise NotFound(
            f"'{action}' is not something an email can do; use retry, cancel, mark-sent or requeue."
        )
    email = await ACTIONS[action](runtime(request), email_id, actor=WEB_ACTOR)
    return render(request, "outbox/_row.html", {"email": email})
