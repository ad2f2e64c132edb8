"""The Piccolo tables of the store.

Every table carries ``created_at`` and ``updated_at``; ``leads`` and ``emails``
carry ``version`` for optimistic concurrency. Columns holding personal data
(addresses, phones, names, inbound bodies) hold Fernet tokens, never clear text;
``*_hash`` columns beside them hold a keyed hash for look-ups and de-duplication.
Schema changes go through the migrations in ``migrations/``.
"""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    Real,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class _Timestamped(Table):
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class LeadRow(_Timestamped, tablename="leads"):
    """A business that might be written to."""

    #: The de-duplication identity (place id, data id, maps URL, or domain and name).
    identity_key = Varchar(length=512, unique=True)
    business_name = Varchar(length=512, index=True)
    #: The normalized name (:func:`~outreach.kernel.identity.normalize_name`), to find the
    #: same business found by another source under another id.
    name_key = Varchar(length=512, null=True, default=None, index=True)
    category = Varchar(length=255, null=True, default=None, index=True)
    categories = JSON(default=[])
    location = Text(null=True, default=None)
    city = Varchar(length=255, null=True, default=None, index=True)
    country_code = Varchar(length=8, null=True, default=None)
    latitude = Real(null=True, default=None)
    longitude = Real(null=True, default=None)
    maps_url = Text(null=True, default=None)
    place_id = Varchar(length=255, null=True, default=None, index=True)
    website_url = Text(null=True, default=None)
    email = Text(null=True, default=None)
    email_hash = Varchar(length=64, null=True, default=None, index=True)
    phone = Text(null=True, default=None)
    contact_name = Text(null=True, default=None)
    rating = Real(null=True, default=None)
    review_count = Integer(null=True, default=None)
    lifecycle_state = Varchar(length=32, default="discovered", index=True)
    score = Real(null=True, default=None, index=True)
    discovery_source = Varchar(length=64, null=True, default=None)
    discovery_confidence = Real(null=True, default=None)
    discovery_metadata = JSON(default={})
    enrichment = JSON(default={})
    failure_reason = Text(null=True, default=None)
    version = Integer(default=1)


class LeadTagRow(Table, tablename="lead_tags"):
    """One tag on one lead (a lead carries each tag once); erased with its lead."""

    lead = ForeignKey(references=LeadRow, on_delete=OnDelete.cascade, index=True)
    #: The normalized tag (:func:`~outreach.kernel.services.lead_tags.normalize_tag`).
    tag = Varchar(length=40, index=True)
    created_at = Timestamptz(default=TimestamptzNow())


class TemplateRow(_Timestamped, tablename="templates"):
    """A reusable email template (subject, text, optional HTML)."""

    name = Varchar(length=255, unique=True)
    subject = Text(default="")
    body_text = Text(default="")
    body_html = Text(null=True, default=None)


class SequenceRow(_Timestamped, tablename="sequences"):
    """A named series of emails: a first message and its follow-ups."""

    name = Varchar(length=255, unique=True)
    description = Text(null=True, default=None)
    active = Boolean(default=True)


class SequenceStepRow(_Timestamped, tablename="sequence_steps"):
    """One step of a sequence: what to send and how long after the previous step."""

    sequence = ForeignKey(references=SequenceRow, on_delete=OnDelete.cascade)
    position = Integer(default=1)
    template = ForeignKey(references=TemplateRow, null=True, default=None, on_delete=OnDelete.set_null)
    subject = Text(default="")
    body_text = Text(default="")
    body_html = Text(null=True, default=None)
    delay_days = Real(default=0)
    business_days = Boolean(default=False)


class SequenceVariantRow(_Timestamped, tablename="sequence_variants"):
    """One variant of a sequence step (A/B tests): its own text and its weight."""

    sequence = ForeignKey(references=SequenceRow, on_delete=OnDelete.cascade, index=True)
    position = Integer(default=1)
    name = Varchar(length=64)
    template = ForeignKey(references=TemplateRow, null=True, default=None, on_delete=OnDelete.set_null)
    subject = Text(default="")
    body_text = Text(default="")
    body_html = Text(null=True, default=None)
    weight = Real(default=1.0)
    #: Stopped by a person: kept for its figures, no longer chosen.
    stopped = Boolean(default=False)


class MailboxRow(_Timestamped, tablename="mailboxes"):
    """A sender identity as last configured, with its sending state."""

    name = Varchar(length=255, unique=True)
    from_address = Text(default="")
    backend = Varchar(length=64, null=True, default=None)
    settings = JSON(default={})
    last_sent_at = Timestamptz(null=True, default=None)
    #: Whether the mailbox is in the config now (rows of removed mailboxes stay for history).
    active = Boolean(default=True)
    #: The earliest time its next email may be claimed (the gap, with its jitter, decided once).
    next_send_at = Timestamptz(null=True, default=None)
    #: When it first sent; the ramp-up counts days from here.
    first_sent_at = Timestamptz(null=True, default=None)


class EmailRow(_Timestamped, tablename="emails"):
    """One message to send: the outbox row and, later, its tracking state."""

    lead = ForeignKey(references=LeadRow, on_delete=OnDelete.cascade, index=True)
    sequence_id = Integer(null=True, default=None)
    step_number = Integer(default=1)
    #: ``lead:sequence:step``: one lead gets one email per step, ever.
    dedupe_key = Varchar(length=128, unique=True)
    mailbox = Varchar(length=255, null=True, default=None)
    sender_backend = Varchar(length=64, null=True, default=None)
    to_address = Text(null=True, default=None)
    to_hash = Varchar(length=64, null=True, default=None, index=True)
    from_address = Text(null=True, default=None)
    subject = Text(default="")
    body_text = Text(default="")
    body_html = Text(null=True, default=None)
    message_id = Varchar(length=255, null=True, default=None, unique=True)
    in_reply_to = Varchar(length=255, null=True, default=None)
    references = JSON(default=[])
    provider_message_id = Varchar(length=255, null=True, default=None)
    provider_thread_id = Varchar(length=255, null=True, default=None)
    state = Varchar(length=32, default="queued", index=True)
    attempts = Integer(default=0)
    due_at = Timestamptz(null=True, default=None, index=True)
    last_error = Text(null=True, default=None)
    needs_attention = Boolean(default=False)
    category = Varchar(length=64, null=True, default=None)
    sent_at = Timestamptz(null=True, default=None)
    version = Integer(default=1)
    #: ``host:pid:nonce`` of the worker sending it; cleared when the outcome is unknown.
    claimed_by = Varchar(length=255, null=True, default=None)
    claimed_at = Timestamptz(null=True, default=None)
    #: The recipient's IANA timezone as found when queued (for the sending window).
    recipient_timezone = Varchar(length=64, null=True, default=None)
    #: The name of the step variant it was written from (A/B tests).
    variant = Varchar(length=64, null=True, default=None)
    #: When the recipient unsubscribed through this email.
    unsubscribed_at = Timestamptz(null=True, default=None)
    #: ``sequence`` or ``answer`` (a person's answer to a reply: no sequence, no cold-email figures).
    kind = Varchar(length=16, default="sequence")


class EnrollmentRow(_Timestamped, tablename="enrollments"):
    """One lead going through one sequence: which step went last and when the next is due."""

    lead = ForeignKey(references=LeadRow, on_delete=OnDelete.cascade, index=True)
    sequence = ForeignKey(references=SequenceRow, on_delete=OnDelete.cascade)
    #: ``lead:sequence``: a lead goes through a sequence once.
    enrollment_key = Varchar(length=64, unique=True)
    mailbox = Varchar(length=255, null=True, default=None)
    #: ``active``, ``finished`` or ``stopped``.
    state = Varchar(length=16, default="active", index=True)
    #: The highest step queued so far.
    last_step = Integer(default=0)
    #: When the next step is to be queued; None while the last one is not sent.
    next_due_at = Timestamptz(null=True, default=None, index=True)
    stop_reason = Text(null=True, default=None)
    version = Integer(default=1)


class SuppressionRow(_Timestamped, tablename="suppressions"):
    """An address that must never be mailed again; kept after its lead is erased."""

    email_hash = Varchar(length=64, unique=True)
    #: The address itself (encrypted); emptied by an erasure, the hash stays.
    email = Text(null=True, default=None)
    reason = Varchar(length=64, default="manual")
    source = Text(null=True, default=None)


class JobRow(_Timestamped, tablename="jobs"):
    """A long-running piece of work with its progress."""

    kind = Varchar(length=64, index=True)
    params = JSON(default={})
    state = Varchar(length=32, default="queued", index=True)
    progress_done = Integer(default=0)
    progress_total = Integer(null=True, default=None)
    counters = JSON(default={})
    report = JSON(default=[])
    result = JSON(default={})
    error = Text(null=True, default=None)
    cancel_requested = Boolean(default=False)
    #: ``host:pid`` of the process running it, so a dead runner's jobs can be found.
    owner = Varchar(length=255, null=True, default=None)
    heartbeat_at = Timestamptz(null=True, default=None)
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)


class JobUnitRow(_Timestamped, tablename="job_units"):
    """One unit of a splittable job (a cell of a map grid), claimed by any worker."""

    job = ForeignKey(references=JobRow, on_delete=OnDelete.cascade, index=True)
    #: Its place in the job's plan (0 first).
    position = Integer(default=0)
    #: What the source planned for it (JSON-able: a cell's centre and zoom...).
    unit = JSON(default={})
    #: ``queued``, ``running``, ``done``, ``failed`` or ``skipped`` (not needed or cancelled).
    state = Varchar(length=32, default="queued", index=True)
    #: ``host:pid`` of the process working on it; its heartbeat says it is alive.
    owner = Varchar(length=255, null=True, default=None)
    heartbeat_at = Timestamptz(null=True, default=None)
    attempts = Integer(default=0)
    progress_done = Integer(default=0)
    progress_total = Integer(null=True, default=None)
    counters = JSON(default={})
    report = JSON(default=[])
    error = Text(null=True, default=None)


class AuditRow(Table, tablename="audit_log"):
    """One recorded change of a lead, an email or another record, with its actor."""

    entity = Varchar(length=32, index=True)
    entity_id = Integer(index=True)
    action = Varchar(length=64)
    actor = Varchar(length=255)
    old_value = JSON(null=True, default=None)
    new_value = JSON(null=True, default=None)
    request_id = Varchar(length=64, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class InboundMessageRow(_Timestamped, tablename="inbound_messages"):
    """One message read from a watched mailbox (a reply, an auto-reply, a bounce) and what it matched."""

    #: Keyed hash of the Message-ID (or of the bytes when there is none): the same message is stored once.
    fingerprint = Varchar(length=64, unique=True)
    #: The reply source that read it (``imap:main``, ``gmail:default``) and its id there.
    source = Varchar(length=255, index=True)
    uid = Varchar(length=255, null=True, default=None)
    message_id = Varchar(length=512, null=True, default=None, index=True)
    #: ``reply``, ``auto_reply`` or ``bounce``.
    kind = Varchar(length=32, index=True)
    category = Varchar(length=64, null=True, default=None, index=True)
    #: An out-of-office reply's stated return date (ISO).
    return_date = Varchar(length=16, null=True, default=None)
    #: ``hard``, ``soft`` or ``mixed`` for bounces.
    bounce_class = Varchar(length=16, null=True, default=None)
    #: The sender (a reply) or the bounced recipient (a bounce), encrypted, and its keyed hash.
    address = Text(null=True, default=None)
    address_hash = Varchar(length=64, null=True, default=None, index=True)
    subject = Text(null=True, default=None)
    body = Text(null=True, default=None)
    reply_text = Text(null=True, default=None)
    email = ForeignKey(references=EmailRow, null=True, default=None, on_delete=OnDelete.set_null, index=True)
    lead = ForeignKey(references=LeadRow, null=True, default=None, on_delete=OnDelete.cascade, index=True)
    #: How the email was found: ``in_reply_to``, ``references``, ``bounce``, ``address`` (or None).
    matched_by = Varchar(length=32, null=True, default=None)
    #: Bounce statuses and reasons, the auto-reply kind, the classifier and its confidence.
    detail = JSON(default={})
    #: Whether its effects (state changes, suppression, stopping the sequence) were applied.
    applied = Boolean(default=False, index=True)
    received_at = Timestamptz(null=True, default=None)


class TrackingEventRow(Table, tablename="tracking_events"):
    """One open (the pixel was loaded) or click (a tracked link was followed) of an email."""

    email = ForeignKey(references=EmailRow, on_delete=OnDelete.cascade, index=True)
    #: ``open`` or ``click``.
    kind = Varchar(length=16, index=True)
    url = Text(null=True, default=None)
    user_agent = Varchar(length=512, null=True, default=None)
    #: Image proxies and security scanners: recorded, not counted as a person's.
    flagged = Boolean(default=False)
    flag_reason = Varchar(length=255, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class PluginStateRow(_Timestamped, tablename="plugin_state"):
    """Small values a plugin keeps between runs (an IMAP folder's last seen UID)."""

    #: ``plugin:key``.
    state_key = Varchar(length=255, unique=True)
    value = JSON(default={})


ALL_TABLES: tuple[type[Table], ...] = (
    LeadRow,
    LeadTagRow,
    TemplateRow,
    SequenceRow,
    SequenceStepRow,
    SequenceVariantRow,
    MailboxRow,
    EmailRow,
    EnrollmentRow,
    SuppressionRow,
    JobRow,
    JobUnitRow,
    AuditRow,
    PluginStateRow,
    InboundMessageRow,
    TrackingEventRow,
)
