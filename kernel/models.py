"""Domain records: what the kernel reads from and writes to its store.

These msgspec Structs are what crosses module boundaries (services, web, CLI,
plugins); Piccolo rows never leave :mod:`outreach.kernel.store`. Field names follow
the seed schema, since they are also the JSON that users script against.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class EnrichmentRecord(msgspec.Struct, kw_only=True):
    """One enricher's output as stored on a lead."""

    enricher: str
    data: dict[str, Any] = {}
    confidence: float | None = None
    source: str | None = None
    at: datetime | None = None


class Lead(msgspec.Struct, kw_only=True):
    """A business that might be written to, with what is known about it."""

    id: int
    business_name: str
    category: str | None = None
    categories: list[str] = []
    location: str | None = None
    city: str | None = None
    country_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    maps_url: str | None = None
    place_id: str | None = None
    website_url: str | None = None
    email: str | None = None
    phone: str | None = None
    contact_name: str | None = None
    rating: float | None = None
    review_count: int | None = None
    lifecycle_state: str = "discovered"
    review_status: str = "none"
    score: float | None = None
    discovery_source: str | None = None
    discovery_confidence: float | None = None
    discovery_metadata: dict[str, Any] = {}
    enrichment: dict[str, EnrichmentRecord] = {}
    failure_reason: str | None = None
    version: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None
    #: The lead's tags, sorted (see :mod:`outreach.kernel.services.lead_tags`).
    tags: list[str] = []


#: ``Email.kind`` of a step of a sequence: a cold email or one of its follow-ups.
SEQUENCE_EMAIL = "sequence"
#: ``Email.kind`` of a person's answer to a reply, written on the Replies page.
ANSWER_EMAIL = "answer"


class Email(msgspec.Struct, kw_only=True):
    """One message in the outbox: a step of a sequence for one lead."""

    id: int
    lead_id: int
    sequence_id: int | None = None
    step_number: int = 1
    mailbox: str | None = None
    sender_backend: str | None = None
    to_address: str | None = None
    from_address: str | None = None
    subject: str = ""
    body_text: str = ""
    body_html: str | None = None
    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = []
    provider_message_id: str | None = None
    provider_thread_id: str | None = None
    state: str = "queued"
    attempts: int = 0
    due_at: datetime | None = None
    last_error: str | None = None
    needs_attention: bool = False
    category: str | None = None
    sent_at: datetime | None = None
    version: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None
    recipient_timezone: str | None = None
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    #: The name of the step's variant this email was written from (A/B tests), if any.
    variant: str | None = None
    #: When the recipient unsubscribed through this email (its link, one-click or a reply).
    unsubscribed_at: datetime | None = None
    #: ``sequence`` (a step of a sequence) or ``answer`` (a person's answer to a reply; it has no
    #: sequence and step 0, carries no cold-email footer and counts in no cold-email figure).
    kind: str = "sequence"


class Job(msgspec.Struct, kw_only=True):
    """A long-running piece of work (a discovery, an import, an analysis run)."""

    id: int
    kind: str
    params: dict[str, Any] = {}
    state: str = "queued"
    progress_done: int = 0
    progress_total: int | None = None
    counters: dict[str, int] = {}
    report: list[dict[str, Any]] = []
    result: dict[str, Any] = {}
    error: str | None = None
    cancel_requested: bool = False
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class Suppression(msgspec.Struct, kw_only=True):
    """An address that must never be mailed: who it is (while known), why, and since when."""

    id: int
    #: The address; None once an erasure emptied it (its keyed hash still blocks it).
    email: str | None = None
    reason: str = "manual"
    source: str | None = None
    created_at: datetime | None = None


class AuditEntry(msgspec.Struct, kw_only=True):
    """One recorded change: who did what to which record, and from what to what."""

    id: int
    entity: str
    entity_id: int
    action: str
    actor: str
    old_value: Any = None
    new_value: Any = None
    request_id: str | None = None
    created_at: datetime | None = None


class Page(msgspec.Struct, kw_only=True):
    """One page of a longer list, with what is needed to draw a pager."""

    items: list[Any]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages the whole list has (at least one)."""
        return max(1, -(-self.total // self.per_page))


class Template(msgspec.Struct, kw_only=True):
    """A saved email template: a subject, a text body and an optional HTML body (Jinja)."""

    id: int
    name: str
    subject: str = ""
    body_text: str = ""
    body_html: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class StepVariant(msgspec.Struct, kw_only=True):
    """One version of a step's text in an A/B test: whole texts a person wrote, chosen by weight."""

    name: str
    subject: str = ""
    body_text: str = ""
    body_html: str | None = None
    weight: float = 1.0
    #: A stopped variant keeps its emails and figures; new emails use the others.
    stopped: bool = False
    template_id: int | None = None
    template_name: str | None = None


class SequenceStep(msgspec.Struct, kw_only=True):
    """One step of a sequence: what to send, and how long after the previous step was sent."""

    position: int
    subject: str = ""
    body_text: str = ""
    body_html: str | None = None
    delay_days: float = 0
    business_days: bool = False
    template_id: int | None = None
    template_name: str | None = None
    #: The step's variants (none: every lead gets the step's own text).
    variants: list[StepVariant] = []


class Sequence(msgspec.Struct, kw_only=True):
    """A named series of emails: the first message and its follow-ups, in order."""

    id: int
    name: str
    description: str | None = None
    active: bool = True
    steps: list[SequenceStep] = []
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Enrollment(msgspec.Struct, kw_only=True):
    """One lead going through one sequence."""

    id: int
    lead_id: int
    sequence_id: int
    mailbox: str | None = None
    state: str = "active"
    last_step: int = 0
    next_due_at: datetime | None = None
    stop_reason: str | None = None
    version: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None


class RenderedEmail(msgspec.Struct, kw_only=True):
    """A template rendered for one lead: what would be sent."""

    subject: str
    text: str
    html: str | None = None


class InboundRecord(msgspec.Struct, kw_only=True):
    """One message read from a watched mailbox, what outreach made of it, and what it matched."""

    id: int
    source: str
    uid: str | None = None
    message_id: str | None = None
    #: ``reply``, ``auto_reply`` or ``bounce``.
    kind: str
    category: str | None = None
    return_date: str | None = None
    bounce_class: str | None = None
    #: The sender of a reply, or the bounced recipient of a bounce.
    address: str | None = None
    subject: str = ""
    body: str = ""
    reply_text: str | None = None
    email_id: int | None = None
    lead_id: int | None = None
    matched_by: str | None = None
    detail: dict[str, Any] = {}
    applied: bool = False
    received_at: datetime | None = None
    created_at: datetime | None = None


class TrackingEvent(msgspec.Struct, kw_only=True):
    """One open or click of an email; ``flagged`` ones came from a proxy or scanner, not a person."""

    id: int
    email_id: int
    kind: str
    url: str | None = None
    user_agent: str | None = None
    flagged: bool = False
    flag_reason: str | None = None
    created_at: datetime | None = None
