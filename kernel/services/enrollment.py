"""From an approved lead to queued emails: readiness, enrollment, follow-ups, stopping.

- ``approved -> ready_for_outreach`` for leads with an email address and no hold on
  it (the rest stay approved, with the reason): an enrichment record whose data
  has an ``outreach_hold`` (``{"email": ..., "reason": ...}``, e.g. the mailbox
  probe found no such mailbox) holds the lead while its address is that email; a
  person who knows better moves it with ``outreach leads set-state ID
  ready_for_outreach``, audited as theirs;
- enrolling a ready lead in a sequence queues step 1, rendered now (what was
  previewed is what is sent) with its Message-ID, under the unique key
  ``lead:sequence:step``;
- a later step is queued once the previous one was sent and its delay has passed,
  as a reply in the same thread, from the same mailbox;
- :meth:`EnrollmentService.stop` ends a lead's sequence (a reply, a bounce, an
  unsubscribe, a person) and cancels what is still queued.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from ..errors import SequenceError, TemplateError
from ..models import ANSWER_EMAIL, Email, Enrollment, Lead, Sequence
from ..states import EmailState, LeadState
from ..store.bulk import insert_rows
from ..store.engine import write_transaction
from ..store.filters import in_values
from ..store.mapping import email_columns, email_from_row, enrollment_from_row, lead_from_row
from ..store.tables import EmailRow, EnrollmentRow, LeadRow
from ..templating import render_template
from ..timezones import preload_timezones, recipient_timezone
from . import audit, followups
from .followups import dedupe_key, suppressed_hashes
from .leads import BulkResult
from .outbox.messages import make_message_id
from .outbox.policy import add_delay
from .sequences import step_source
from .slices import breathe
from .transitions import utcnow
from .variants import VariantCounts

if TYPE_CHECKING:
    from ..runtime import Runtime

log = structlog.get_logger("outreach.enrollment")

#: The key of an enrichment record's data that holds a lead back from ``ready_for_outreach``.
HOLD_KEY = "outreach_hold"


def outreach_hold(lead: Lead) -> str | None:
    """Why an enricher holds the lead back from outreach at its current address, or None."""
    email = (lead.email or "").strip().casefold()
    for record in lead.enrichment.values():
        hold = record.data.get(HOLD_KEY)
        if isinstance(hold, dict) and str(hold.get("email", "")).strip().casefold() == email:
            return str(hold.get("reason") or f"the {record.enricher} enricher holds it back")
    return None


class EnrollResult(msgspec.Struct, kw_only=True):
    """What an enrollment did: leads enrolled (with their first email), and why the others were not."""

    enrolled: dict[int, int] = {}
    skipped: dict[int, str] = {}


class EnrollmentService:
    """Moves leads into sequences and their emails into the outbox."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    # -- ready -----------------------------------------------------------------------

    async def mark_ready(
        self, lead_ids: list[int] | None, *, actor: str, override_hold: bool = False
    ) -> BulkResult:
        """Move approved leads (these, or all) to ``ready_for_outreach``; those without an address stay.

        :param override_hold: a person decided that a lead an enricher holds back (see
            :func:`outreach_hold`) goes anyway: it moves, and its audit row says what hold
            was overridden. Leads without an address or with a suppressed one still stay.
        """
        query = LeadRow.select(
            LeadRow.id,
            LeadRow.business_name,
            LeadRow.lifecycle_state,
            LeadRow.email,
            LeadRow.email_hash,
            LeadRow.enrichment,
        )
        if lead_ids is None:
            query = query.where(LeadRow.lifecycle_state == LeadState.APPROVED)
        else:
            query = query.where(in_values(LeadRow.id, lead_ids))
        rows = {r["id"]: r for r in await query}
        result = BulkResult()
        for lead_id in lead_ids or []:
            if lead_id not in rows:
                result.skipped[lead_id] = "no such lead"
        suppressed = await suppressed_hashes(r["email_hash"] for r in rows.values())
        movable = []
        overridden: dict[int, str] = {}
        for lead_id, row in rows.items():
            if row["lifecycle_state"] != LeadState.APPROVED:
                result.skipped[lead_id] = f"is {row['lifecycle_state']}, not approved"
            elif not row["email_hash"]:
                result.skipped[lead_id] = "has no email address; add one or analyze the lead again"
            elif row["email_hash"] in suppressed:
                result.skipped[lead_id] = "its address is on the suppression list"
            elif (hold := outreach_hold(lead_from_row(row, self._rt.vault))) is not None:
                if override_hold:
                    overridden[lead_id] = hold
                else:
                    result.skipped[lead_id] = (
                        f"{hold}; correct the address, or make it ready anyway (the button in the lead's "
                        f"panel, or `outreach leads set-state {lead_id} ready_for_outreach --reason ...`)"
                    )
            else:
                movable.append(lead_id)
        moved = await self._rt.leads.transition_many(movable, LeadState.READY_FOR_OUTREACH, actor=actor)
        result.changed = moved.changed
        result.skipped.update(moved.skipped)
        for lead_id, hold in overridden.items():
            await self._rt.leads.transition(
                lead_id,
                LeadState.READY_FOR_OUTREACH,
                actor=actor,
                reason=f"made ready despite a hold: {hold}",
            )
            result.changed.append(lead_id)
        return result

    # -- enroll ----------------------------------------------------------------------

    async def enroll(self, reference: str | int, lead_ids: list[int] | None, *, actor: str) -> EnrollResult:
        """Enroll ready leads (these, or all) in a sequence and queue each one's first email.

        Written in chunks of 200 leads, each in its own transaction: after an error,
        enrolling again skips the leads that were enrolled.
        """
        sequence = await self._rt.sequences.find(reference)
        if not sequence.steps:
            raise SequenceError(f"Sequence '{sequence.name}' has no steps.")
        query = LeadRow.select()
        if lead_ids is None:
            query = query.where(LeadRow.lifecycle_state == LeadState.READY_FOR_OUTREACH)
        else:
            query = query.where(in_values(LeadRow.id, lead_ids))
        rows = await query.order_by(LeadRow.id)
        result = EnrollResult()
        found = {r["id"] for r in rows}
        for lead_id in lead_ids or []:
            if lead_id not in found:
                result.skipped[lead_id] = "no such lead"
        suppressed = await suppressed_hashes(r["email_hash"] for r in rows)
        candidates: list[Lead] = []
        for row in rows:
            await breathe()
            lead = lead_from_row(row, self._rt.vault)
            if lead.lifecycle_state != LeadState.READY_FOR_OUTREACH:
                result.skipped[lead.id] = (
                    f"is {lead.lifecycle_state}, not ready_for_outreach; Make ready on the Leads "
                    "page (or `outreach leads ready`) moves approved leads"
                )
            elif not lead.email:
                result.skipped[lead.id] = "has no email address"
            elif row["email_hash"] in suppressed:
                result.skipped[lead.id] = "its address is on the suppression list"
            else:
                candidates.append(lead)
        now = self._rt.clock()
        step = sequence.steps[0]
        prepared: list[tuple[Lead, str, dict[str, Any]]] = []
        # The first timezone lookup loads the gazetteer and polygons: not on the event loop.
        await asyncio.to_thread(preload_timezones, candidates)
        variants = VariantCounts(sequence.id)
        for lead, mailbox in zip(candidates, await self._rt.mailboxes.assign(len(candidates)), strict=True):
            await breathe()
            settings = self._rt.mailboxes.settings_of(mailbox)
            variant = await variants.choose(step)
            try:
                rendered = render_template(
                    step_source(step, variant), lead, sender_name=self._rt.mailboxes.sender_name(mailbox)
                )
            except TemplateError as exc:
                result.skipped[lead.id] = str(exc)
                continue
            variants.taken(step, variant)
            timezone = recipient_timezone(lead, self._rt.mailboxes.timezone_of(mailbox))
            prepared.append(
                (
                    lead,
                    mailbox,
                    {
                        "lead": lead.id,
                        "sequence_id": sequence.id,
                        "step_number": 1,
                        "dedupe_key": dedupe_key(lead.id, sequence.id, 1),
                        "mailbox": mailbox,
                        "to_address": lead.email,
                        "from_address": settings.from_address,
                        "subject": rendered.subject,
                        "body_text": rendered.text,
                        "body_html": rendered.html,
                        "message_id": make_message_id(settings.from_address),
                        "state": EmailState.QUEUED,
                        "due_at": add_delay(now, step.delay_days, step.business_days, timezone),
                        "recipient_timezone": timezone,
                        "variant": variant.name if variant else None,
                    },
                )
            )
        await self._insert_enrollments(sequence, prepared, result, actor)
        log.info(
            "leads_enrolled",
            sequence_id=sequence.id,
            enrolled=len(result.enrolled),
            skipped=len(result.skipped),
        )
        return result

    async def _insert_enrollments(
        self,
        sequence: Sequence,
        prepared: list[tuple[Lead, str, dict[str, Any]]],
        result: EnrollResult,
        actor: str,
    ) -> None:
        # A transaction per chunk: the outbox starts on the first emails (woken at once)
        # while the rest are written, and no one waits long for SQLite's single write lock.
        for start in range(0, len(prepared), 200):
            async with write_transaction():
                await self._insert_chunk(sequence, prepared[start : start + 200], result, actor)
            self._rt.outbox.wake()

    async def _insert_chunk(
        self,
        sequence: Sequence,
        chunk: list[tuple[Lead, str, dict[str, Any]]],
        result: EnrollResult,
        actor: str,
    ) -> None:
        # Checked inside the write lock, so two enrollments at once cannot both pass.
        busy: dict[int, str] = {}
        for row in await EnrollmentRow.select(
            EnrollmentRow.lead, EnrollmentRow.state, EnrollmentRow.sequence.name.as_alias("seq")
        ).where(in_values(EnrollmentRow.lead, [lead.id for lead, _, _ in chunk])):
            busy.setdefault(row["lead"], row["seq"])
        fresh = []
        for lead, mailbox, values in chunk:
            if lead.id in busy:
                result.skipped[lead.id] = f"is already enrolled in sequence '{busy[lead.id]}'"
            else:
                fresh.append((lead, mailbox, values))
        if not fresh:
            return
        await insert_rows(
            EnrollmentRow,
            [
                {
                    "lead": lead.id,
                    "sequence": sequence.id,
                    "enrollment_key": f"{lead.id}:{sequence.id}",
                    "mailbox": mailbox,
                    "last_step": 1,
                }
                for lead, mailbox, _ in fresh
            ],
        )
        await insert_rows(EmailRow, [email_columns(values, self._rt.vault) for _, _, values in fresh])
        inserted = await EmailRow.select(EmailRow.id, EmailRow.lead, EmailRow.variant).where(
            in_values(EmailRow.dedupe_key, [values["dedupe_key"] for _, _, values in fresh])
        )
        audits = []
        for row in inserted:
            result.enrolled[row["lead"]] = row["id"]
            audits.append(
                audit.audit_values(
                    "email",
                    row["id"],
                    "queued",
                    actor,
                    new={"state": "queued", "sequence": sequence.name, "step": 1, "variant": row["variant"]},
                )
            )
            audits.append(
                audit.audit_values("lead", row["lead"], "enrolled", actor, new={"sequence": sequence.name})
            )
        await audit.record_many(audits)

    # -- follow-ups ------------------------------------------------------------------

    async def queue_due_followups(self, now: datetime | None = None, limit: int = 200) -> list[int]:
        """Queue the next step of every enrollment whose delay has passed; return the new email ids."""
        return await followups.queue_due(self._rt, now or self._rt.clock(), limit)

    # -- stop ------------------------------------------------------------------------

    async def stop(self, lead_id: int, reason: str, *, actor: str) -> list[int]:
        """End every active sequence of a lead and cancel its queued emails; return their ids.

        Call it when the lead replied, bounced or unsubscribed, or a person asked; an
        email already with a server cannot be called back.
        """
        async with write_transaction():
            cancelled = await self.stop_in_transaction(lead_id, reason, actor=actor)
        for email in cancelled:
            self._rt.emails.notify(email, EmailState.QUEUED, EmailState.CANCELLED, actor)
        return [email.id for email in cancelled]

    async def stop_in_transaction(self, lead_id: int, reason: str, *, actor: str) -> list[Email]:
        """Like :meth:`stop` inside the caller's write transaction; the cancelled emails, whose
        ``email_transitioned`` events the caller fires after the commit."""
        cancelled = []
        stopped = await (
            EnrollmentRow.update(
                {
                    EnrollmentRow.state: "stopped",
                    EnrollmentRow.stop_reason: reason,
                    EnrollmentRow.next_due_at: None,
                    EnrollmentRow.version: EnrollmentRow.version + 1,
                    EnrollmentRow.updated_at: utcnow(),
                }
            )
            .where((EnrollmentRow.lead == lead_id) & (EnrollmentRow.state == "active"))
            .returning(EnrollmentRow.id, EnrollmentRow.sequence)
        )
        for row in stopped:
            await audit.record(
                "lead",
                lead_id,
                "sequence_stopped",
                actor,
                new={"sequence_id": row["sequence"], "reason": reason},
            )
        # A person's answer to the lead is not a step of a sequence: stopping leaves it be.
        queued = await EmailRow.select(EmailRow.id).where(
            (EmailRow.lead == lead_id)
            & (EmailRow.state == EmailState.QUEUED)
            & (EmailRow.kind != ANSWER_EMAIL)
        )
        for row in queued:
            email, _ = await self._rt.emails.transition_in_transaction(
                row["id"],
                EmailState.CANCELLED,
                actor=actor,
                reason=reason,
                changes={"last_error": reason},
            )
            cancelled.append(email)
        if stopped or cancelled:
            log.info("sequence_stopped", lead_id=lead_id, cancelled=len(cancelled))
        return cancelled

    async def postpone(self, lead_id: int, until: datetime, reason: str, *, actor: str) -> int:
        """Hold a lead's next steps back until ``until`` (an out-of-office reply's return date).

        Active enrollments whose next step is due earlier are moved to ``until``, and so
        are the lead's queued emails; return how many of those emails moved.
        """
        moved = 0
        async with write_transaction():
            postponed = await (
                EnrollmentRow.update(
                    {
                        EnrollmentRow.next_due_at: until,
                        EnrollmentRow.version: EnrollmentRow.version + 1,
                        EnrollmentRow.updated_at: utcnow(),
                    }
                )
                .where(
                    (EnrollmentRow.lead == lead_id)
                    & (EnrollmentRow.state == "active")
                    & (EnrollmentRow.next_due_at < until)
                )
                .returning(EnrollmentRow.id, EnrollmentRow.sequence)
            )
            for row in postponed:
                await audit.record(
                    "lead",
                    lead_id,
                    "sequence_postponed",
                    actor,
                    new={"sequence_id": row["sequence"], "until": until.isoformat(), "reason": reason},
                )
            queued = await EmailRow.select().where(
                (EmailRow.lead == lead_id)
                & (EmailRow.state == EmailState.QUEUED)
                & (EmailRow.kind != ANSWER_EMAIL)
                & ((EmailRow.due_at < until) | EmailRow.due_at.is_null())
            )
            for row in queued:
                email = email_from_row(row, self._rt.vault)
                moved += int(await self._rt.emails.defer_in_transaction(email, until, reason))
        if postponed or moved:
            log.info("sequence_postponed", lead_id=lead_id, emails=moved)
        return moved

    async def for_lead(self, lead_id: int) -> list[Enrollment]:
        """Every enrollment of one lead."""
        rows = await EnrollmentRow.select().where(EnrollmentRow.lead == lead_id).order_by(EnrollmentRow.id)
        return [enrollment_from_row(r) for r in rows]

    async def counts(self, sequence_id: int) -> dict[str, int]:
        """How many enrollments of one sequence are active, finished or stopped."""
        rows = await EnrollmentRow.raw(
            "SELECT state, COUNT(*) AS n FROM enrollments WHERE sequence = {} GROUP BY state", sequence_id
        )
        counts = {"active": 0, "finished": 0, "stopped": 0}
        counts.update({r["state"]: r["n"] for r in rows})
        return counts
