"""What a person does to emails: retry a failed one, send a waiting one now, cancel a queued one,
settle an interrupted one, and move the emails of a mailbox that left the config.

"Send now" makes a queued email due now and marks it (a ``send_now`` audit row with the
version it leaves the email at) so that the next plan lets it through the sending window
and its mailbox's gap once. Caps, the global rate limit, suppression and the compliance
checks still apply: a legal hold comes back at that plan. The mark is used up by any
change of the email (its claim, a check's defer, a retry) and lapses after
:data:`SEND_NOW_LASTS`, so an email a cap holds until tomorrow meets the window again.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from ...errors import ConcurrentUpdate, InvalidInput, NotFound, OutreachError
from ...models import Email
from ...states import EmailState
from ...store.engine import write_transaction
from ...store.filters import in_values
from ...store.tables import EmailRow, EnrollmentRow
from .. import audit
from ..transitions import utcnow
from .dry_run import HOLD_DEFERRED, HOLD_DUE, HOLD_LEGAL, Hold, hold_of
from .ledger import schedule_next_steps
from .messages import make_message_id, message_domain
from .planner import HOLD_COMPLIANCE, HOLD_NO_SENDER, HOLD_STRANDED, SEND_NOW

if TYPE_CHECKING:
    from ...runtime import Runtime

#: How long a "send now" lets an email skip the window and gap when a cap or the rate limit holds it.
SEND_NOW_LASTS = timedelta(hours=1)

#: States an email has once a sender took it.
_WENT_OUT = frozenset(
    {EmailState.SENT, EmailState.DELIVERED, EmailState.OPENED, EmailState.REPLIED, EmailState.CATEGORIZED}
    | {EmailState.BOUNCED}
)


class WrongEmailState(OutreachError):
    """An action that does not fit the email's state; the sentence says what does."""

    status_code = 409


class Done(msgspec.Struct, kw_only=True):
    """An email after a person's action, and the sentence that tells the person what happened."""

    email: Email
    message: str


def _utc(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _send_now_hint(email_id: int) -> str:
    return f"Use Send now (`outreach outbox send-now {email_id}`) to skip a wait that is yours to skip."


def _move_hint(email: Email) -> str:
    return (
        f"Move it to a configured mailbox: `outreach outbox move --from {email.mailbox} --to MAILBOX "
        f"{email.id}`, or the Outbox page's stranded emails."
    )


def waiting_sentence(email: Email, hold: Hold) -> str:
    """``it waits until ... because ...`` and what a person can do about it."""
    if hold.kind == HOLD_DUE:
        return "it is due now and goes out at the worker's next round (`outreach send` sends it at once)."
    until = f" until {_utc(hold.until)}" if hold.until else ""
    waits = f"it waits{until} because {hold.reason}."
    if hold.skippable:
        return f"{waits} {_send_now_hint(email.id)}"
    if hold.kind == HOLD_STRANDED:
        return f"{waits} {_move_hint(email)}"
    if hold.kind == HOLD_LEGAL:
        return f"{waits} Complete those settings; send-now does not skip what the law asks for."
    if hold.kind in (HOLD_COMPLIANCE, HOLD_DEFERRED):
        return (
            f"{waits} Send now makes it due at once, and the compliance checks judge it again before it goes."
        )
    return f"{waits} That is not a wait send-now skips."


def _not_queued(email: Email, doing: str) -> WrongEmailState:
    """The error for an action on a queued email asked of one in another state."""
    if email.state == EmailState.FAILED:
        why = f" ({email.last_error})" if email.last_error else ""
        return WrongEmailState(
            f"Email {email.id} failed{why}, so it cannot be {doing}; "
            f"queue it again with Retry (`outreach outbox retry {email.id}`)."
        )
    if email.state == EmailState.SENDING:
        return WrongEmailState(
            f"Email {email.id} is being sent (or its send was interrupted), so it cannot be {doing}; "
            "an interrupted send is settled on the needs-attention list."
        )
    if email.state in _WENT_OUT:
        when = f" on {_utc(email.sent_at)}" if email.sent_at else ""
        return WrongEmailState(f"Email {email.id} already went out{when}; it cannot be {doing}.")
    return WrongEmailState(f"Email {email.id} is {email.state}; only a queued email can be {doing}.")


async def retry(rt: Runtime, email_id: int, *, actor: str) -> Email:
    """Queue a failed email again, due now, with its tries counted from zero.

    A queued email is not failed: the answer says what it waits for instead.
    """
    email = await rt.emails.get(email_id)
    if email.state == EmailState.QUEUED:
        hold = await hold_of(rt, email)
        assert hold is not None
        raise WrongEmailState(f"Email {email_id} is queued, not failed: {waiting_sentence(email, hold)}")
    return await rt.emails.transition(
        email_id,
        EmailState.QUEUED,
        actor=actor,
        expected_version=email.version,
        reason="retried by a person",
        changes={"due_at": rt.clock(), "attempts": 0, "last_error": None, "needs_attention": False},
    )


def _after_send_now(email_id: int, hold: Hold) -> str:
    """What a person is told after "send now", given what held the email before."""
    done = f"Email {email_id} is due now"
    if hold.kind in (HOLD_LEGAL, HOLD_COMPLIANCE, HOLD_DEFERRED):
        return (
            f"{done}. The compliance checks judge it again before it goes: it was held because "
            f"{hold.reason}, so it waits again unless that no longer holds."
        )
    if not hold.skippable and hold.kind != HOLD_DUE:
        return (
            f"{done}, but it still waits because {hold.reason}, which send-now does not skip; "
            "it goes first when that allows."
        )
    skipped = f", no longer waiting because {hold.reason}" if hold.kind != HOLD_DUE else ""
    return (
        f"{done}{skipped}; it goes out at the worker's next round, past the sending window and its "
        "mailbox's gap. Caps, the rate limit and the compliance checks still apply."
    )


async def send_now(rt: Runtime, email_id: int, *, actor: str) -> Done:
    """Make a queued email due now, skipping the waits that are a person's to skip (see the module)."""
    email = await rt.emails.get(email_id)
    if email.state != EmailState.QUEUED or email.needs_attention:
        raise _not_queued(email, "sent now")
    hold = await hold_of(rt, email)
    assert hold is not None
    if hold.kind in (HOLD_STRANDED, HOLD_NO_SENDER):
        raise WrongEmailState(f"Email {email_id} cannot go now: {waiting_sentence(email, hold)}")
    now = rt.clock()
    due_at = now if email.due_at is None or email.due_at > now else email.due_at
    version = email.version + 1
    async with write_transaction():
        updated = await (
            EmailRow.update(
                {
                    EmailRow.due_at: due_at,
                    EmailRow.last_error: None,
                    EmailRow.version: version,
                    EmailRow.updated_at: utcnow(),
                }
            )
            .where(
                (EmailRow.id == email_id)
                & (EmailRow.version == email.version)
                & (EmailRow.state == EmailState.QUEUED)
            )
            .returning(EmailRow.id)
        )
        if not updated:
            raise ConcurrentUpdate("email", email_id, email.version)
        await audit.record(
            "email",
            email_id,
            SEND_NOW,
            actor,
            old={
                "due_at": email.due_at.isoformat() if email.due_at else None,
                "hold": hold.kind,
                "reason": hold.reason,
            },
            new={
                "due_at": due_at.isoformat(),
                # The mark: the planner honours it while the email stays at this version.
                "version": version,
                "until": (now + SEND_NOW_LASTS).isoformat(),
                "skips": ["window", "gap"],
            },
        )
    rt.outbox.wake()
    changed = msgspec.structs.replace(email, due_at=due_at, last_error=None, version=version)
    return Done(email=changed, message=_after_send_now(email_id, hold))


async def _sequence_name(rt: Runtime, email: Email) -> str | None:
    if email.sequence_id is None:
        return None
    try:
        return (await rt.sequences.get(email.sequence_id)).name
    except NotFound:
        return None


async def cancel_one(rt: Runtime, email_id: int, *, actor: str) -> Done:
    """Cancel a queued email; the lead's sequence stops with it, and the answer says so.

    A sequence cannot skip a step (a follow-up goes only after the previous one was sent,
    in its thread), so cancelling one email ends the sequence for that lead.
    """
    email = await rt.emails.transition(
        email_id,
        EmailState.CANCELLED,
        actor=actor,
        reason="cancelled by a person",
        changes={"last_error": "cancelled by a person"},
    )
    others = await rt.enrollment.stop(
        email.lead_id, "an email of the sequence was cancelled by a person", actor=actor
    )
    name = await _sequence_name(rt, email)
    message = f"Email {email_id} is cancelled."
    if name is not None:
        message += f" The lead's sequence ({name}) stops too: no later step is queued for this lead."
    if others:
        listed = ", ".join(str(i) for i in others)
        several = len(others) > 1
        message += (
            f" Its other queued email{'s' if several else ''} ({listed}) "
            f"{'are' if several else 'is'} cancelled as well."
        )
    return Done(email=email, message=message)


async def cancel(rt: Runtime, email_id: int, *, actor: str) -> Email:
    """Cancel a queued email; the lead's sequence stops with it."""
    return (await cancel_one(rt, email_id, actor=actor)).email


async def _interrupted(rt: Runtime, email_id: int) -> Email:
    email = await rt.emails.get(email_id)
    if email.state != EmailState.SENDING or not email.needs_attention:
        raise OutreachError(
            f"Email {email_id} is {email.state} and not on the needs-attention list; "
            "only an interrupted send can be settled by hand."
        )
    return email


async def mark_sent(rt: Runtime, email_id: int, *, actor: str) -> Email:
    """Settle an interrupted send as sent (a person found it in the Sent folder)."""
    email = await _interrupted(rt, email_id)
    now = rt.clock()
    changed = await rt.emails.transition(
        email_id,
        EmailState.SENT,
        actor=actor,
        expected_version=email.version,
        reason="marked sent by a person",
        changes={"sent_at": now, "needs_attention": False, "claimed_by": None, "last_error": None},
    )
    async with write_transaction():
        await schedule_next_steps(rt, [(changed, now)])
    return changed


async def requeue(rt: Runtime, email_id: int, *, actor: str) -> Email:
    """Send an interrupted email again (a person checked it did not go out); same Message-ID."""
    email = await _interrupted(rt, email_id)
    return await rt.emails.transition(
        email_id,
        EmailState.QUEUED,
        actor=actor,
        expected_version=email.version,
        reason="re-queued by a person",
        changes={"due_at": rt.clock(), "needs_attention": False, "claimed_by": None},
    )


# -- moving the emails of a mailbox ------------------------------------------------------------


class MoveResult(msgspec.Struct, kw_only=True):
    """What a move did: the emails moved, those that were not (and why), and what changed with them."""

    from_mailbox: str
    to_mailbox: str
    from_address: str
    moved: list[int] = []
    skipped: dict[int, str] = {}
    #: Moved emails that were given a new Message-ID (the old one's domain was the old mailbox's).
    new_message_ids: list[int] = []
    #: Moved emails that are follow-ups: their thread's earlier emails came from the old mailbox.
    followups: list[int] = []
    #: Enrollments whose later steps now come from the new mailbox.
    enrollments: int = 0

    def sentence(self) -> str:
        """What the person is told."""
        if not self.moved:
            text = f"No email was moved from '{self.from_mailbox}'"
            if not self.skipped:
                return text + ": none of its emails is queued."
            return text + "; " + self._skips()
        n = len(self.moved)
        parts = [
            f"Moved {n} email{'s' if n > 1 else ''} from '{self.from_mailbox}' to '{self.to_mailbox}' "
            f"(now from {self.from_address})."
        ]
        if self.new_message_ids:
            parts.append(f"{len(self.new_message_ids)} got a new Message-ID in the new mailbox's domain.")
        if self.followups:
            k = len(self.followups)
            parts.append(
                f"{k} {'is a follow-up' if k == 1 else 'are follow-ups'}: the earlier emails of "
                f"{'its' if k == 1 else 'their'} thread came from the old address; the reply still "
                "carries In-Reply-To and References, so the recipient's mail program keeps the thread."
            )
        if self.enrollments:
            parts.append(
                f"The later steps of {self.enrollments} lead{'s' if self.enrollments > 1 else ''}' "
                f"sequence{'s' if self.enrollments > 1 else ''} go from '{self.to_mailbox}' too."
            )
        if self.skipped:
            parts.append(self._skips())
        return " ".join(parts)

    def _skips(self) -> str:
        return "not moved: " + "; ".join(f"email {i} {why}" for i, why in sorted(self.skipped.items())) + "."


def _domain_of(message_id: str | None) -> str:
    return (message_id or "").strip("<>").rpartition("@")[2].lower()


async def _movable(from_mailbox: str, ids: list[int] | None, result: MoveResult) -> list[dict[str, Any]]:
    """The queued emails of ``from_mailbox`` to move (these ids, or all); why the other ids are not."""
    columns = (
        EmailRow.id,
        EmailRow.lead,
        EmailRow.sequence_id,
        EmailRow.step_number,
        EmailRow.mailbox,
        EmailRow.message_id,
        EmailRow.state,
        EmailRow.needs_attention,
        EmailRow.version,
    )
    if ids is None:
        return await EmailRow.select(*columns).where(
            (EmailRow.mailbox == from_mailbox)
            & (EmailRow.state == EmailState.QUEUED)
            & EmailRow.needs_attention.eq(False)
        )
    rows = {r["id"]: r for r in await EmailRow.select(*columns).where(in_values(EmailRow.id, ids))}
    movable = []
    for email_id in ids:
        row = rows.get(email_id)
        if row is None:
            result.skipped[email_id] = "does not exist"
        elif row["mailbox"] != from_mailbox:
            result.skipped[email_id] = f"is in mailbox '{row['mailbox']}', not '{from_mailbox}'"
        elif row["state"] != EmailState.QUEUED:
            result.skipped[email_id] = f"is {row['state']}, not queued"
        elif row["needs_attention"]:
            result.skipped[email_id] = "needs a person's attention first"
        else:
            movable.append(row)
    return movable


async def move(
    rt: Runtime, from_mailbox: str, to_mailbox: str, ids: list[int] | None = None, *, actor: str
) -> MoveResult:
    """Move queued emails (these, or all) of ``from_mailbox`` to the configured ``to_mailbox``.

    Each gets the new mailbox's From address, keeps its Message-ID when that was made in
    the new address's domain (else gets a new one), and loses the provider's thread id,
    which belongs to the old account. Its enrollment moves too, so later follow-ups come
    from the new mailbox. Every moved email is audited.
    """
    if from_mailbox == to_mailbox:
        raise InvalidInput(
            f"The emails are in '{from_mailbox}' already; choose another mailbox to move them to."
        )
    if to_mailbox not in rt.mailboxes.names():
        raise InvalidInput(
            f"There is no mailbox named '{to_mailbox}' in the config; move the emails to one of: "
            f"{', '.join(rt.mailboxes.names())}."
        )
    target = rt.mailboxes.settings_of(to_mailbox)
    domain = message_domain(target.from_address)
    result = MoveResult(from_mailbox=from_mailbox, to_mailbox=to_mailbox, from_address=target.from_address)
    audits = []
    threads: dict[int, set[int]] = defaultdict(set)
    async with write_transaction():
        for row in await _movable(from_mailbox, sorted(set(ids)) if ids is not None else None, result):
            keep = _domain_of(row["message_id"]) == domain
            message_id = row["message_id"] if keep else make_message_id(target.from_address)
            updated = await (
                EmailRow.update(
                    {
                        EmailRow.mailbox: to_mailbox,
                        EmailRow.from_address: target.from_address,
                        EmailRow.message_id: message_id,
                        EmailRow.provider_thread_id: None,
                        EmailRow.version: row["version"] + 1,
                        EmailRow.updated_at: utcnow(),
                    }
                )
                .where(
                    (EmailRow.id == row["id"])
                    & (EmailRow.version == row["version"])
                    & (EmailRow.state == EmailState.QUEUED)
                )
                .returning(EmailRow.id)
            )
            if not updated:
                result.skipped[row["id"]] = "changed meanwhile; try again"
                continue
            result.moved.append(row["id"])
            if not keep:
                result.new_message_ids.append(row["id"])
            if row["step_number"] > 1:
                result.followups.append(row["id"])
            if row["sequence_id"] is not None:
                threads[row["sequence_id"]].add(row["lead"])
            audits.append(
                audit.audit_values(
                    "email",
                    row["id"],
                    "moved",
                    actor,
                    old={"mailbox": from_mailbox, "message_id": row["message_id"]},
                    new={
                        "mailbox": to_mailbox,
                        "from_address": target.from_address,
                        "message_id": message_id,
                    },
                )
            )
        result.enrollments = await _move_enrollments(threads, from_mailbox, to_mailbox, actor, audits)
        await audit.record_many(audits)
    if result.moved:
        rt.outbox.wake()
    return result


async def _move_enrollments(
    threads: dict[int, set[int]], from_mailbox: str, to_mailbox: str, actor: str, audits: list[Any]
) -> int:
    """Point the enrollments of the moved emails at the new mailbox; how many moved."""
    moved = 0
    for sequence_id, leads in threads.items():
        rows = await (
            EnrollmentRow.update(
                {
                    EnrollmentRow.mailbox: to_mailbox,
                    EnrollmentRow.version: EnrollmentRow.version + 1,
                    EnrollmentRow.updated_at: utcnow(),
                }
            )
            .where(
                in_values(EnrollmentRow.lead, sorted(leads))
                & (EnrollmentRow.sequence == sequence_id)
                & (EnrollmentRow.mailbox == from_mailbox)
            )
            .returning(EnrollmentRow.lead)
        )
        moved += len(rows)
        audits.extend(
            audit.audit_values(
                "lead",
                row["lead"],
                "sequence_mailbox_moved",
                actor,
                old={"mailbox": from_mailbox},
                new={"mailbox": to_mailbox, "sequence_id": sequence_id},
            )
            for row in rows
        )
    return moved
