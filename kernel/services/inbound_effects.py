"""What an inbound message changes, applied through the state services (each change audited).

- a reply: the email goes ``replied`` then ``categorized`` with its category, and the
  lead's sequence stops; an unsubscribe request also suppresses the address;
- an auto-reply proves delivery (``sent -> delivered``); an out-of-office reply with a
  return date holds the lead's follow-ups back until then;
- a hard bounce: the email goes ``bounced``, the address is suppressed, the sequence
  stops; a soft bounce is recorded, and after ``[tracking] soft_bounce_limit`` of them
  the address is treated as a hard bounce.

Effects are worked out from the stored record alone and applied in the transaction
that stores it; should they fail, the row is kept unapplied and tried again later.
Every step is safe to repeat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING

from ..models import Email, InboundRecord
from ..states import EMAIL_MACHINE, EmailState
from ..store.mapping import email_from_row
from ..store.tables import EmailRow, InboundMessageRow

if TYPE_CHECKING:
    from ..runtime import Runtime

ACTOR = "system:inbound"


@dataclass
class Effects:
    """What applying one message did, and the email events to fire once it is committed."""

    done: list[str] = field(default_factory=list)
    events: list[tuple[Email, str, str]] = field(default_factory=list)
    #: The message these effects are of, and our email it matched (for ``inbound_applied``).
    record: InboundRecord | None = None
    email: Email | None = None

    def notify(self, rt: Runtime) -> None:
        """Fire ``email_transitioned`` for every change, then ``inbound_applied`` (call after the commit)."""
        for email, old, new in self.events:
            rt.emails.notify(email, old, new, ACTOR)
        if self.record is not None and rt.plugins.listens("inbound_applied"):
            rt.plugins.notify("inbound_applied", record=self.record, email=self.email)


async def _advance(
    rt: Runtime, email: Email, states: list[tuple[str, dict[str, str]]], reason: str, effects: Effects
) -> None:
    """Move ``email`` through ``states`` in order, skipping those it cannot reach from where it is."""
    current = email.state
    for state, changes in states:
        if not EMAIL_MACHINE.can(current, state):
            continue
        changed, old = await rt.emails.transition_in_transaction(
            email.id, state, actor=ACTOR, reason=reason, changes=changes or None
        )
        effects.events.append((changed, old, state))
        current = state


async def _suppress(rt: Runtime, addresses: list[str | None], reason: str, source: str) -> None:
    for address in dict.fromkeys(a for a in addresses if a):
        await rt.suppressions.add(address, reason=reason, source=source, actor=ACTOR)


async def _stop(rt: Runtime, lead_id: int, reason: str, effects: Effects) -> None:
    cancelled = await rt.enrollment.stop_in_transaction(lead_id, reason, actor=ACTOR)
    effects.events.extend((email, EmailState.QUEUED, EmailState.CANCELLED) for email in cancelled)
    effects.done.append("stopped")


async def _soft_bounces(rt: Runtime, address: str | None) -> int:
    digest = rt.vault.hash_email(address)
    if digest is None:
        return 0
    return await InboundMessageRow.count().where(
        (InboundMessageRow.address_hash == digest)
        & (InboundMessageRow.kind == "bounce")
        & (InboundMessageRow.bounce_class == "soft")
    )


def _return_time(value: str | None) -> datetime | None:
    try:
        return datetime.combine(date.fromisoformat(value or ""), time(0), tzinfo=UTC)
    except ValueError:
        return None


async def _reply(rt: Runtime, record: InboundRecord, email: Email | None, effects: Effects) -> None:
    category = record.category or "unknown"
    if email is not None:
        await _advance(
            rt,
            email,
            [(EmailState.REPLIED, {}), (EmailState.CATEGORIZED, {"category": category})],
            f"reply ({category})",
            effects,
        )
        effects.done.append("categorized")
    if record.lead_id is not None:
        await _stop(rt, record.lead_id, f"the lead replied ({category})", effects)
    if category == "unsubscribe":
        # The person who wrote, and the address we wrote to if they answered from another one.
        await _suppress(rt, [record.address, email.to_address if email else None], "unsubscribed", "reply")
        if email is not None:
            await rt.emails.mark_unsubscribed(email.id)
        effects.done.append("suppressed")
    elif category == "complaint" and email is not None:
        # A spam complaint: never mail that recipient again. A feedback report comes from
        # the provider, not the person, so the address suppressed is the one we wrote to.
        await _suppress(rt, [email.to_address], "complained", "complaint")
        effects.done.append("suppressed")


async def _auto_reply(rt: Runtime, record: InboundRecord, email: Email | None, effects: Effects) -> None:
    if email is not None:
        await _advance(rt, email, [(EmailState.DELIVERED, {})], "an automatic reply proves delivery", effects)
    until = _return_time(record.return_date)
    away = record.category == "out_of_office" and record.lead_id is not None
    if away and until is not None and until > rt.clock():
        await rt.enrollment.postpone(
            record.lead_id, until, f"out of office until {record.return_date}", actor=ACTOR
        )
        effects.done.append("postponed")
    if record.category == "unsubscribe":
        await _suppress(rt, [record.address], "unsubscribed", "reply")
        if email is not None:
            await rt.emails.mark_unsubscribed(email.id)
        effects.done.append("suppressed")


async def _bounce(rt: Runtime, record: InboundRecord, email: Email | None, effects: Effects) -> None:
    if email is None or not record.detail.get("ours"):
        return  # nothing of ours, or another address than the one we wrote to
    source = "hard bounce"
    if record.bounce_class != "hard":
        count = await _soft_bounces(rt, record.address)
        if count < rt.settings.tracking.soft_bounce_limit:
            effects.done.append("recorded")
            return
        source = f"{count} soft bounces"
    await _advance(rt, email, [(EmailState.BOUNCED, {})], source, effects)
    await _suppress(rt, [record.address or email.to_address], "bounced", source)
    effects.done += ["bounced", "suppressed"]
    await _stop(rt, email.lead_id, f"an email to the lead bounced ({source})", effects)


async def apply_effects(rt: Runtime, record: InboundRecord) -> Effects:
    """Apply what ``record`` means for our emails, the lead and the suppression list.

    Runs inside the caller's write transaction; the caller fires the returned events
    once it committed.
    """
    effects = Effects(record=record)
    email = None
    if record.email_id is not None:
        row = await EmailRow.select().where(EmailRow.id == record.email_id).first()
        email = effects.email = email_from_row(row, rt.vault) if row else None
    if record.kind == "reply":
        await _reply(rt, record, email, effects)
    elif record.kind == "auto_reply":
        await _auto_reply(rt, record, email, effects)
    elif record.kind == "bounce":
        await _bounce(rt, record, email, effects)
    return effects
