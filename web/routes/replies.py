"""The replies inbox: what came back (replies, auto-replies, bounces) by category, and each thread.

On a reply's page a person answers it in place (the answer goes through the outbox,
from the mailbox that wrote the thread) and moves its lead through the deal stages
(interested, meeting, won, lost).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, get, post

from outreach.kernel.errors import InvalidInput, NotFound
from outreach.kernel.models import ANSWER_EMAIL, Email, InboundRecord, Lead
from outreach.kernel.services.answers import AnswerService
from outreach.kernel.services.inbound import KINDS
from outreach.kernel.states import DEAL_STATES, LeadState, deal_moves
from outreach.web.rendering import render

from . import WEB_ACTOR, RecordId, form, optional_int, runtime

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Reply categories, in the order the inbox offers them.
CATEGORIES = ("interested", "not_interested", "out_of_office", "unsubscribe", "wrong_person", "unknown")


@get("/replies", name="replies", include_in_schema=False)
async def replies_index(request: Request[Any, Any, Any]) -> Response[str]:
    """Inbound messages newest first, by category or kind; an htmx request gets only the list."""
    rt = runtime(request)
    category = request.query_params.get("category") or None
    category = category if category in CATEGORIES else None
    kind = request.query_params.get("kind") or None
    kind = kind if kind in KINDS else None
    page = await rt.inbound.list(
        category=category, kind=kind, page=optional_int(request.query_params.get("page")) or 1
    )
    return render(
        request,
        "replies/index.html",
        {
            "page": page,
            "category": category,
            "kind": kind,
            "categories": CATEGORIES,
            "kinds": KINDS,
            "counts": await rt.inbound.counts(),
            "reply_sources": rt.plugins.reply_sources.names(),
            "answered": await AnswerService(rt).answered([message.id for message in page.items]),
        },
        block="results",
    )


def _thread(emails: list[Email], messages: list[InboundRecord]) -> list[tuple[str, Any]]:
    """Our emails and what came back, in time order: ``("sent", email)``, ``("answer", email)``
    and ``("received", message)``. Answers show from the moment they are queued."""
    items: list[tuple[Any, str, Any]] = []
    for email in emails:
        if email.kind == ANSWER_EMAIL:
            items.append((email.sent_at or email.created_at, "answer", email))
        elif email.sent_at:
            items.append((email.sent_at, "sent", email))
    items += [(message.received_at or message.created_at, "received", message) for message in messages]
    items.sort(key=lambda item: item[0] or EPOCH)
    return [(kind, value) for _, kind, value in items]


async def _context(request: Request[Any, Any, Any], inbound_id: int, **extra: Any) -> dict[str, Any]:
    """What the reply's page shows: the message, its lead, the thread, the answer form, the deal moves."""
    rt = runtime(request)
    message = await rt.inbound.get(inbound_id)
    lead: Lead | None = None
    emails: list[Email] = []
    messages = [message]
    if message.lead_id is not None:
        try:
            lead = await rt.leads.get(message.lead_id)
        except NotFound:
            lead = None
        emails = await rt.emails.for_lead(message.lead_id)
        messages = await rt.inbound.for_lead(message.lead_id)
    return {
        "message": message,
        "lead": lead,
        "thread": _thread(emails, messages),
        "answer_refusal": await AnswerService(rt).refusal(message),
        "answer_token": uuid.uuid4().hex,
        "deal_moves": deal_moves(lead.lifecycle_state) if lead else [],
        "deal_states": DEAL_STATES,
        "answered": None,
        "moved": None,
        **extra,
    }


@get("/replies/{inbound_id:int}", name="reply_detail", include_in_schema=False)
async def reply_detail(request: Request[Any, Any, Any], inbound_id: RecordId) -> Response[str]:
    """One message with its thread: the emails we sent the lead and everything that came back."""
    return render(request, "replies/detail.html", await _context(request, inbound_id), fragment=False)


@post("/replies/{inbound_id:int}/answer", name="reply_answer", include_in_schema=False, status_code=200)
async def reply_answer(request: Request[Any, Any, Any], inbound_id: RecordId) -> Response[str]:
    """Queue a person's answer to the message; htmx gets the thread with the answer in it."""
    data = await form(request)
    answered = await AnswerService(runtime(request)).answer(
        inbound_id, data.get("text", ""), token=data.get("token", ""), actor=WEB_ACTOR
    )
    context = await _context(request, inbound_id, answered=answered)
    return render(request, "replies/detail.html", context, block="conversation")


@post("/replies/{inbound_id:int}/stage", name="reply_stage", include_in_schema=False, status_code=200)
async def reply_stage(request: Request[Any, Any, Any], inbound_id: RecordId) -> Response[str]:
    """Move the message's lead to a deal stage (interested, meeting, won, lost); htmx gets the panel."""
    rt = runtime(request)
    data = await form(request)
    stage = data.get("stage", "")
    if stage not in DEAL_STATES:
        raise InvalidInput(f"'{stage[:40]}' is not a deal stage; use one of: {', '.join(DEAL_STATES)}.")
    message = await rt.inbound.get(inbound_id)
    if message.lead_id is None:
        raise InvalidInput("This message is not matched to a lead, so there is no lead to move.")
    await rt.leads.transition(
        message.lead_id,
        LeadState(stage),
        actor=WEB_ACTOR,
        expected_version=optional_int(data.get("version")),
        reason=f"on the page of reply {inbound_id}",
    )
    context = await _context(request, inbound_id, moved=stage)
    return render(request, "replies/detail.html", context, block="deal")
