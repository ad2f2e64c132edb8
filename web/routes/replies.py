"""The replies inbox: what came back (replies, auto-replies, bounces) by category, and each thread."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, get

from outreach.kernel.errors import NotFound
from outreach.kernel.models import Email, InboundRecord, Lead
from outreach.kernel.services.inbound import KINDS
from outreach.web.rendering import render

from . import RecordId, optional_int, runtime

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
        },
        block="results",
    )


def _thread(emails: list[Email], messages: list[InboundRecord]) -> list[tuple[str, Any]]:
    """Our emails and what came back, in time order: ``("sent", email)`` and ``("received", message)``."""
    items: list[tuple[Any, str, Any]] = [
        (email.sent_at or email.created_at, "sent", email) for email in emails if email.sent_at
    ]
    items += [(message.received_at or message.created_at, "received", message) for message in messages]
    items.sort(key=lambda item: item[0] or EPOCH)
    return [(kind, value) for _, kind, value in items]


@get("/replies/{inbound_id:int}", name="reply_detail", include_in_schema=False)
async def reply_detail(request: Request[Any, Any, Any], inbound_id: RecordId) -> Response[str]:
    """One message with its thread: the emails we sent the lead and everything that came back."""
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
    return render(
        request,
        "replies/detail.html",
        {"message": message, "lead": lead, "thread": _thread(emails, messages)},
    )
