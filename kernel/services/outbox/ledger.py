"""The outbox's writes: claiming emails and recording what became of them, in batches.

The claim is a conditional update (``queued -> sending`` where the version is still
the one the checks saw), committed before any server is contacted: of two workers
that planned the same email, one claims it and the other's update matches nothing.
Outcomes are written for a whole batch in one transaction, with their audit rows in
one insert, because SQLite pays per statement and per commit, not per row.

Between the two, nothing is written here: which claimed emails the worker has begun
handing to a server, and how each such send ended, goes to the worker's hand-over
log (:mod:`.handover`), a file appended to without fsync, because a committed write
per email cost more than the send. Reconciliation reads it after a crash.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from ...models import Email, Sequence
from ...states import EMAIL_MACHINE, EmailState, check_transition
from ...store.engine import write_transaction
from ...store.filters import in_values
from ...store.tables import EmailRow, EnrollmentRow, MailboxRow, SuppressionRow
from .. import audit
from ..slices import breathe
from ..transitions import utcnow
from .policy import add_delay

if TYPE_CHECKING:
    from ...runtime import Runtime

log = structlog.get_logger("outreach.outbox")

E = EmailState


class Outcome(msgspec.Struct, kw_only=True):
    """What one send attempt came to.

    ``kind`` is ``sent``, ``retry`` (a transient error), ``failed`` (a permanent one),
    ``unavailable`` (no sender could be reached), ``uncertain`` (the server may have it)
    or ``released`` (never handed to a server; the worker stopped first).
    """

    email: Email
    kind: str
    sender: str | None = None
    error: str | None = None
    provider_message_id: str | None = None
    provider_thread_id: str | None = None
    accepted_at: datetime | None = None


def _transition_audit(email_id: int, old: str, new: str, actor: str, **new_values: Any) -> Any:
    values = {"state": new, **{k: v for k, v in new_values.items() if v is not None}}
    values = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}
    return audit.audit_values(
        "email", email_id, f"transition:{old}->{new}", actor, old={"state": old}, new=values
    )


async def claim(
    rt: Runtime, emails: list[Email], *, owner: str, now: datetime, senders: dict[int, str]
) -> list[Email]:
    """Claim ``emails`` (``queued -> sending``) inside the caller's write transaction.

    Only rows still queued at the version read are claimed; the claimed ones come back
    as they are now.
    """
    check_transition(EMAIL_MACHINE, E.QUEUED, E.SENDING)
    # One update per version and first sender (the one tried first is stored with the
    # claim, so that a crash during the send is reconciled with the right sender).
    groups: dict[tuple[int, str | None], list[int]] = defaultdict(list)
    for email in emails:
        groups[(email.version, senders.get(email.id, email.sender_backend))].append(email.id)
    claimed_ids: set[int] = set()
    for (version, sender), ids in groups.items():
        rows = await (
            EmailRow.update(
                {
                    EmailRow.state: E.SENDING,
                    EmailRow.version: version + 1,
                    EmailRow.claimed_by: owner,
                    EmailRow.claimed_at: now,
                    EmailRow.attempts: EmailRow.attempts + 1,
                    EmailRow.sender_backend: sender or None,
                    EmailRow.updated_at: now,
                }
            )
            .where(
                in_values(EmailRow.id, ids)
                & (EmailRow.version == version)
                & (EmailRow.state == E.QUEUED)
                # Checked again inside the claim: an address suppressed since the plan never goes.
                & EmailRow.to_hash.not_in(SuppressionRow.select(SuppressionRow.email_hash))
            )
            .returning(EmailRow.id)
        )
        claimed_ids.update(r["id"] for r in rows)
    claimed = [
        msgspec.structs.replace(
            email,
            state=E.SENDING,
            version=email.version + 1,
            claimed_by=owner,
            claimed_at=now,
            attempts=email.attempts + 1,
            sender_backend=senders.get(email.id, email.sender_backend),
        )
        for email in emails
        if email.id in claimed_ids
    ]
    await audit.record_many(_transition_audit(e.id, E.QUEUED, E.SENDING, owner_actor(owner)) for e in claimed)
    return claimed


def owner_actor(owner: str) -> str:
    """The audit actor of a worker."""
    return f"system:worker:{owner}"


async def pace_mailboxes(claimed: list[Email], next_send: dict[str, datetime], now: datetime) -> None:
    """Record each mailbox's send time and when it may send next (inside the claim's transaction)."""
    for mailbox in {e.mailbox for e in claimed if e.mailbox}:
        await MailboxRow.update(
            {
                MailboxRow.last_sent_at: now,
                MailboxRow.next_send_at: next_send.get(mailbox, now),
                MailboxRow.updated_at: now,
            }
        ).where(MailboxRow.name == mailbox)
        await MailboxRow.update({MailboxRow.first_sent_at: now}).where(
            (MailboxRow.name == mailbox) & MailboxRow.first_sent_at.is_null()
        )


async def switch_sender(email_id: int, sender: str, owner: str) -> None:
    """Record that a failover sender is about to be tried, so a crash now is reconciled with it."""
    async with write_transaction():
        await EmailRow.update({EmailRow.sender_backend: sender}).where(
            (EmailRow.id == email_id) & (EmailRow.state == E.SENDING) & (EmailRow.claimed_by == owner)
        )


async def schedule_next_steps(
    rt: Runtime, sent: list[tuple[Email, datetime]], sequences: dict[int, Sequence] | None = None
) -> None:
    """After emails were sent, set when each one's next step is due (or finish its enrollment).

    Emails of the same step, sent at the same time to the same timezone, share one update.
    ``sequences`` is a cache of sequences by id that the caller may keep between batches.
    """
    sequences = {} if sequences is None else sequences
    groups: dict[tuple[int, int, str | None, datetime], list[int]] = defaultdict(list)
    for email, sent_at in sent:
        if email.sequence_id is not None:
            groups[(email.sequence_id, email.step_number, email.recipient_timezone, sent_at)].append(
                email.lead_id
            )
    for (sequence_id, step_number, timezone, sent_at), leads in groups.items():
        if sequence_id not in sequences:
            sequences[sequence_id] = await rt.sequences.get(sequence_id)
        steps = sequences[sequence_id].steps
        values: dict[Any, Any] = {EnrollmentRow.updated_at: utcnow()}
        if step_number < len(steps):
            following = steps[step_number]
            values[EnrollmentRow.next_due_at] = add_delay(
                sent_at, following.delay_days, following.business_days, timezone
            )
        else:
            values[EnrollmentRow.state] = "finished"
            values[EnrollmentRow.next_due_at] = None
        await EnrollmentRow.update(values).where(
            in_values(EnrollmentRow.lead, leads)
            & (EnrollmentRow.sequence == sequence_id)
            & (EnrollmentRow.state == "active")
            & (EnrollmentRow.last_step == step_number)
        )


async def _record_sent(outcomes: list[Outcome], owner: str, now: datetime) -> set[int]:
    """Mark a batch's sent emails in one update per sender; the ids updated."""
    done: set[int] = set()
    by_sender: dict[str | None, list[int]] = defaultdict(list)
    for outcome in outcomes:
        by_sender[outcome.sender].append(outcome.email.id)
    for sender, ids in by_sender.items():
        rows = await (
            EmailRow.update(
                {
                    EmailRow.state: E.SENT,
                    EmailRow.sent_at: now,
                    EmailRow.claimed_by: None,
                    EmailRow.last_error: None,
                    EmailRow.sender_backend: sender,
                    EmailRow.version: EmailRow.version + 1,
                    EmailRow.updated_at: now,
                }
            )
            .where(
                in_values(EmailRow.id, ids) & (EmailRow.state == E.SENDING) & (EmailRow.claimed_by == owner)
            )
            .returning(EmailRow.id)
        )
        done.update(r["id"] for r in rows)
    for outcome in outcomes:
        if outcome.email.id in done and (outcome.provider_message_id or outcome.provider_thread_id):
            await EmailRow.update(
                {
                    EmailRow.provider_message_id: outcome.provider_message_id,
                    EmailRow.provider_thread_id: outcome.provider_thread_id
                    or outcome.email.provider_thread_id,
                }
            ).where(EmailRow.id == outcome.email.id)
    return done


async def record(
    rt: Runtime,
    outcomes: list[Outcome],
    *,
    owner: str,
    retry_at: dict[int, datetime],
    max_attempts: int,
    now: datetime,
    sequences: dict[int, Sequence] | None = None,
) -> list[tuple[Email, str, str]]:
    """Write every outcome of a batch in one transaction; return (email, old, new) for the events.

    ``now`` is the worker's clock: the sent time that follow-up delays count from.
    """
    actor = owner_actor(owner)
    events: list[tuple[Email, str, str]] = []
    audits = []
    sent_rows: list[tuple[Email, datetime]] = []
    guard = (EmailRow.state == E.SENDING) & (EmailRow.claimed_by == owner)
    check_transition(EMAIL_MACHINE, E.SENDING, E.SENT)
    async with write_transaction():
        sent_ids = await _record_sent([o for o in outcomes if o.kind == "sent"], owner, now)
        for outcome in outcomes:
            await breathe()
            email = outcome.email
            if outcome.kind == "sent":
                if email.id not in sent_ids:
                    log.warning("outcome_skipped", email_id=email.id, outcome=outcome.kind)
                    continue
                changed = msgspec.structs.replace(
                    email,
                    state=E.SENT,
                    version=email.version + 1,
                    claimed_by=None,
                    last_error=None,
                    sent_at=now,
                    sender_backend=outcome.sender,
                    provider_message_id=outcome.provider_message_id,
                    provider_thread_id=outcome.provider_thread_id or email.provider_thread_id,
                )
                audits.append(_transition_audit(email.id, E.SENDING, E.SENT, actor, sender=outcome.sender))
                events.append((changed, E.SENDING, E.SENT))
                sent_rows.append((changed, now))
                continue
            values: dict[Any, Any] = {EmailRow.updated_at: now, EmailRow.version: email.version + 1}
            where = (EmailRow.id == email.id) & (EmailRow.version == email.version) & guard
            if outcome.kind in ("retry", "unavailable", "released"):
                exhausted = outcome.kind == "retry" and email.attempts >= max_attempts
                if exhausted:
                    values.update({EmailRow.state: E.FAILED, EmailRow.claimed_by: None})
                    values[EmailRow.last_error] = f"{outcome.error} (gave up after {email.attempts} tries)"
                    new = E.FAILED
                else:
                    values.update(
                        {
                            EmailRow.state: E.QUEUED,
                            EmailRow.claimed_by: None,
                            EmailRow.due_at: retry_at.get(email.id, now),
                            EmailRow.last_error: outcome.error,
                        }
                    )
                    if outcome.kind != "retry":
                        # A down server or a stop is not the email's fault: the try does not count.
                        values[EmailRow.attempts] = max(0, email.attempts - 1)
                    new = E.QUEUED
            elif outcome.kind == "failed":
                values.update(
                    {EmailRow.state: E.FAILED, EmailRow.claimed_by: None, EmailRow.last_error: outcome.error}
                )
                new = E.FAILED
            else:  # uncertain: stays in sending, released for reconciliation
                values.update({EmailRow.claimed_by: None, EmailRow.last_error: outcome.error})
                new = E.SENDING
            if new != E.SENDING:
                check_transition(EMAIL_MACHINE, E.SENDING, new)
            updated = await EmailRow.update(values).where(where).returning(EmailRow.id)
            if not updated:
                log.warning("outcome_skipped", email_id=email.id, outcome=outcome.kind)
                continue
            changed = msgspec.structs.replace(
                email,
                state=new,
                version=email.version + 1,
                claimed_by=None,
                last_error=values.get(EmailRow.last_error, email.last_error),
                sender_backend=outcome.sender or email.sender_backend,
            )
            if new == E.SENDING:
                audits.append(
                    audit.audit_values(
                        "email", email.id, "outcome_unknown", actor, new={"error": outcome.error}
                    )
                )
                continue
            audits.append(
                _transition_audit(
                    email.id,
                    E.SENDING,
                    new,
                    actor,
                    sender=outcome.sender,
                    reason=outcome.error,
                )
            )
            events.append((changed, E.SENDING, new))
        await schedule_next_steps(rt, sent_rows, sequences)
        await audit.record_many(audits)
    return events
