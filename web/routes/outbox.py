"""The outbox page: emails by state and what each waits for, one email's exact message and history,
acting on one email (retry, send now, cancel, settle an interrupted send), and moving the stranded
emails of a mailbox that left the config."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath

from outreach.kernel.errors import InvalidInput, NotFound
from outreach.kernel.models import Email
from outreach.kernel.runtime import Runtime
from outreach.kernel.services import audit
from outreach.kernel.services.emails import written_to_file
from outreach.kernel.services.outbox import actions
from outreach.kernel.services.outbox.dry_run import hold_of, holds
from outreach.kernel.services.outbox.planner import stranded_reason
from outreach.kernel.states import EmailState
from outreach.web.rendering import render

from . import WEB_ACTOR, RecordId, optional_int, runtime

Action = Callable[[Runtime, int], Awaitable[tuple[Email, str | None]]]


async def _retry(rt: Runtime, email_id: int) -> tuple[Email, str | None]:
    return await actions.retry(rt, email_id, actor=WEB_ACTOR), "Queued again, due now."


async def _send_now(rt: Runtime, email_id: int) -> tuple[Email, str | None]:
    done = await actions.send_now(rt, email_id, actor=WEB_ACTOR)
    return done.email, done.message


async def _cancel(rt: Runtime, email_id: int) -> tuple[Email, str | None]:
    done = await actions.cancel_one(rt, email_id, actor=WEB_ACTOR)
    return done.email, done.message


async def _mark_sent(rt: Runtime, email_id: int) -> tuple[Email, str | None]:
    return await actions.mark_sent(rt, email_id, actor=WEB_ACTOR), None


async def _requeue(rt: Runtime, email_id: int) -> tuple[Email, str | None]:
    return await actions.requeue(rt, email_id, actor=WEB_ACTOR), None


#: What each button does to one email, and the sentence it answers with.
ACTIONS: dict[str, Action] = {
    "retry": _retry,
    "send-now": _send_now,
    "cancel": _cancel,
    "mark-sent": _mark_sent,
    "requeue": _requeue,
}


async def _rows(rt: Runtime, emails: list[Email]) -> dict[str, Any]:
    """What the email rows show beside each email: its lead's name and what it waits for."""
    return {
        "names": await rt.emails.lead_names([e.lead_id for e in emails]),
        "holds": await holds(rt, emails),
        "written_to_file": written_to_file,
    }


async def _stranded(rt: Runtime) -> dict[str, Any]:
    """The stranded section: queued emails of mailboxes no longer in the config, by mailbox."""
    counts = await rt.mailboxes.stranded()
    emails = await rt.emails.queued_in(sorted(counts))
    groups = [
        {
            "mailbox": name,
            "count": count,
            "reason": stranded_reason(name),
            "emails": [e for e in emails if (e.mailbox or "") == name],
        }
        for name, count in sorted(counts.items())
    ]
    return {"stranded": groups, "mailboxes": rt.mailboxes.names()}


@get("/outbox", name="outbox", include_in_schema=False)
async def outbox_index(request: Request[Any, Any, Any]) -> Response[str]:
    """Emails newest first, filtered by state; an htmx request (a filter, a page) gets only the table."""
    rt = runtime(request)
    return render(request, "outbox/index.html", await _index_context(request, rt), block="results")


async def _index_context(request: Request[Any, Any, Any], rt: Runtime, **extra: Any) -> dict[str, Any]:
    state = request.query_params.get("state") or None
    state = state if state in set(EmailState) else None
    page = await rt.emails.list(state, optional_int(request.query_params.get("page")) or 1, 50)
    attention = await rt.emails.list(needs_attention=True, per_page=200)
    stranded = await _stranded(rt)
    shown = page.items + attention.items + [e for g in stranded["stranded"] for e in g["emails"]]
    return {
        "page": page,
        "state": state,
        "states": list(EmailState),
        "counts": await rt.emails.count_by_state(),
        "attention": attention.items,
        **stranded,
        **await _rows(rt, shown),
        "moved": None,
        **extra,
    }


@get("/outbox/{email_id:int}", name="outbox_detail", include_in_schema=False)
async def outbox_detail(request: Request[Any, Any, Any], email_id: RecordId) -> Response[str]:
    """One email: its exact message (headers, text, HTML in a sandbox) and its history."""
    rt = runtime(request)
    email = await rt.emails.get(email_id)
    names = await rt.emails.lead_names([email.lead_id])
    return render(
        request,
        "outbox/detail.html",
        {
            "email": email,
            "lead_name": names.get(email.lead_id),
            "hold": await hold_of(rt, email),
            "view": await rt.emails.view(email),
            "history": await audit.trail("email", email.id),
            "written_to_file": written_to_file(email),
        },
        block="detail",
    )


@post("/outbox/move", name="outbox_move", include_in_schema=False)
async def outbox_move(request: Request[Any, Any, Any]) -> Response[str]:
    """Move the stranded emails of a mailbox (all, or the ones ticked) to a configured mailbox."""
    rt = runtime(request)
    data = await request.form()
    from_mailbox = str(data.get("from") or "")
    to_mailbox = str(data.get("to") or "")
    if not from_mailbox or not to_mailbox:
        raise InvalidInput("Choose the mailbox to move the emails from and the one to move them to.")
    ids = [n for n in (optional_int(str(v)) for v in data.getall("ids", [])) if n is not None and n > 0]
    if data.get("which") == "selected" and not ids:
        raise InvalidInput("No email is ticked; tick the emails to move, or move them all.")
    result = await actions.move(
        rt, from_mailbox, to_mailbox, ids if data.get("which") == "selected" else None, actor=WEB_ACTOR
    )
    context = await _index_context(request, rt, moved=result.sentence())
    return render(request, "outbox/index.html", context, block="stranded_section")


@post("/outbox/{email_id:int}/{action:str}", name="outbox_action", include_in_schema=False)
async def outbox_action(
    request: Request[Any, Any, Any], email_id: FromPath[int], action: FromPath[str]
) -> Response[str]:
    """Retry, send now, cancel, mark sent or re-queue one email; answer with its new row and a sentence."""
    if action not in ACTIONS:
        raise NotFound(
            f"'{action}' is not something an email can do; use retry, send-now, cancel, mark-sent or requeue."
        )
    rt = runtime(request)
    email, message = await ACTIONS[action](rt, email_id)
    return render(
        request, "outbox/_row.html", {"email": email, "message": message, **await _rows(rt, [email])}
    )
