"""Follow-ups: each enrollment's next step, queued once the previous one was sent and its delay passed.

The step is rendered now, for the lead as it is now, and queued as a reply in the
first email's thread (``In-Reply-To``, ``References``, ``Re:`` subject, the provider's
thread id), from the same mailbox and to the same address. An enrollment whose lead
replied or bounced, or whose address was suppressed, is stopped instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

import structlog

from ..errors import TemplateError
from ..models import Email, Enrollment, Lead, Sequence
from ..states import EmailState
from ..store.engine import write_transaction
from ..store.filters import in_values
from ..store.mapping import email_columns, email_from_row, enrollment_from_row
from ..store.tables import EmailRow, EnrollmentRow, SuppressionRow
from ..templating import render_template
from . import audit
from .outbox.messages import make_message_id
from .sequences import reply_subject, step_source
from .transitions import utcnow
from .variants import VariantCounts

if TYPE_CHECKING:
    from ..runtime import Runtime

log = structlog.get_logger("outreach.enrollment")

#: Email states that end a lead's sequence: the lead answered, or the address does not work.
STOPPING_STATES = (EmailState.REPLIED, EmailState.CATEGORIZED, EmailState.BOUNCED)


async def suppressed_hashes(hashes: Iterable[str | None]) -> set[str]:
    """Which of these address hashes are on the suppression list."""
    wanted = sorted({h for h in hashes if h})
    if not wanted:
        return set()
    rows = await SuppressionRow.select(SuppressionRow.email_hash).where(
        in_values(SuppressionRow.email_hash, wanted)
    )
    return {r["email_hash"] for r in rows}


def dedupe_key(lead_id: int, sequence_id: int, step: int) -> str:
    """The unique key of one lead's one step of one sequence."""
    return f"{lead_id}:{sequence_id}:{step}"


async def queue_due(rt: Runtime, now: datetime, limit: int = 200) -> list[int]:
    """Queue the next step of every enrollment whose delay has passed; return the new email ids."""
    rows = await (
        EnrollmentRow.select()
        .where((EnrollmentRow.state == "active") & (EnrollmentRow.next_due_at <= now))
        .order_by(EnrollmentRow.next_due_at)
        .limit(limit)
    )
    if not rows:
        return []
    enrollments = [enrollment_from_row(r) for r in rows]
    sequences: dict[int, Sequence] = {}
    variants: dict[int, VariantCounts] = {}
    queued: list[int] = []
    for enrollment in enrollments:
        if enrollment.sequence_id not in sequences:
            sequences[enrollment.sequence_id] = await rt.sequences.get(enrollment.sequence_id)
            variants[enrollment.sequence_id] = VariantCounts(enrollment.sequence_id)
        sequence = sequences[enrollment.sequence_id]
        email_id = await _queue_next(rt, enrollment, sequence, variants[sequence.id], now)
        if email_id is not None:
            queued.append(email_id)
    return queued


async def _queue_next(
    rt: Runtime, enrollment: Enrollment, sequence: Sequence, variants: VariantCounts, now: datetime
) -> int | None:
    actor = "system:sequences"
    lead = await rt.leads.get(enrollment.lead_id)
    emails = [
        email_from_row(r, rt.vault)
        for r in await EmailRow.select()
        .where((EmailRow.lead == lead.id) & (EmailRow.sequence_id == sequence.id))
        .order_by(EmailRow.step_number)
    ]
    stop_reason = await _stop_reason(rt, lead, emails)
    if stop_reason:
        await rt.enrollment.stop(lead.id, stop_reason, actor=actor)
        return None
    number = enrollment.last_step + 1
    if number > len(sequence.steps):
        await _finish(enrollment)
        return None
    first, previous = emails[0], emails[-1]
    mailbox = enrollment.mailbox or first.mailbox or rt.mailboxes.names()[0]
    step = sequence.steps[number - 1]
    # The thread goes on in the first email's variant where this step has one of that name.
    variant = await variants.choose(step, keep=first.variant)
    try:
        rendered = render_template(
            step_source(step, variant), lead, sender_name=rt.mailboxes.sender_name(mailbox)
        )
    except TemplateError as exc:
        await rt.enrollment.stop(
            lead.id, f"step {number} cannot be written for this lead: {exc}", actor=actor
        )
        return None
    # From the enrollment's mailbox as configured now: a thread moved to another mailbox
    # goes on from that mailbox's address, not the one it started from.
    from_address = (
        rt.mailboxes.settings_of(mailbox).from_address
        if mailbox in rt.mailboxes.names()
        else first.from_address
    )
    values = {
        "lead": lead.id,
        "sequence_id": sequence.id,
        "step_number": number,
        "dedupe_key": dedupe_key(lead.id, sequence.id, number),
        "mailbox": mailbox,
        "to_address": first.to_address,
        "from_address": from_address,
        "subject": reply_subject(first.subject),
        "body_text": rendered.text,
        "body_html": rendered.html,
        "message_id": make_message_id(from_address or ""),
        "in_reply_to": previous.message_id,
        "references": [*previous.references, previous.message_id],
        "provider_thread_id": first.provider_thread_id,
        "state": EmailState.QUEUED,
        "due_at": now,
        "recipient_timezone": first.recipient_timezone,
        "variant": variant.name if variant else None,
    }
    async with write_transaction():
        claimed = await (
            EnrollmentRow.update(
                {
                    EnrollmentRow.last_step: number,
                    EnrollmentRow.next_due_at: None,
                    EnrollmentRow.version: enrollment.version + 1,
                    EnrollmentRow.updated_at: utcnow(),
                }
            )
            .where((EnrollmentRow.id == enrollment.id) & (EnrollmentRow.version == enrollment.version))
            .returning(EnrollmentRow.id)
        )
        if not claimed:
            return None  # another worker queued it first
        rows = await EmailRow.insert(EmailRow(**email_columns(values, rt.vault))).returning(EmailRow.id)
        await audit.record(
            "email",
            rows[0]["id"],
            "queued",
            actor,
            new={"state": "queued", "sequence": sequence.name, "step": number, "variant": values["variant"]},
        )
    variants.taken(step, variant)
    log.info("followup_queued", email_id=rows[0]["id"], lead_id=lead.id, step=number)
    return int(rows[0]["id"])


async def _stop_reason(rt: Runtime, lead: Lead, emails: list[Email]) -> str | None:
    for email in emails:
        if email.state in STOPPING_STATES:
            return f"the lead's email {email.id} is {email.state}"
    if not emails or emails[-1].state not in (EmailState.SENT, EmailState.DELIVERED, EmailState.OPENED):
        return "the previous step was not sent"
    hashes = [rt.vault.hash_email(emails[0].to_address)]
    if await suppressed_hashes(hashes):
        return "the address is on the suppression list"
    return None


async def _finish(enrollment: Enrollment) -> None:
    async with write_transaction():
        await EnrollmentRow.update(
            {
                EnrollmentRow.state: "finished",
                EnrollmentRow.next_due_at: None,
                EnrollmentRow.updated_at: utcnow(),
            }
        ).where(EnrollmentRow.id == enrollment.id)
