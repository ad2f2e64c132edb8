"""What an inbound message changes, applied through the state services (each change audited).

- a reply: the email goes ``replied`` then ``categorized`` with its category, and the
  lead's sequence stops; an unsubscribe request also suppresses the address;
- an auto-reply proves delivery (``sent -> delivered``); an out-of-office reply with a
  return date holds the lead's follow-ups back until then;
- a hard bounce: the email goes ``bounced``, the address is suppressed, the sequence
  stops; a soft bounce is recorded, and after ``[tracking] soft_bounce_limit`` of them
  the address is treated as a hard bounce.

Effects are worked out from the stored record alone, so a message whose effects were
interrupted (a crash) is finished later from its row; every step is safe to repeat.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING

from ..errors import NotFound
from ..models import Email, InboundRecord
from ..states import EMAIL_MACHINE, EmailState
from ..store.engine import write_transaction
from ..store.tables import InboundMessageRow

if TYPE_CHECKING:
    from ..runtime import Runtime

ACTOR = "system:inbound"


async def _advance(rt: Runtime, email: Email, states: list[tuple[str, dict[str, str]]], reason: str) -> None:
    """Move ``email`` through ``states`` in order, skipping those it cannot reach from where it is."""
    events = []
    async with write_transaction():
        current = (await rt.emails.get(email.id)).state
        for state, changes in states:
            if not EMAIL_MACHINE.can(current, state):
                continue
            changed, old = await rt.emails.transition_in_transaction(
                email.id, state, actor=ACTOR, reason=reason, changes=changes or None
            )
            events.append((changed, old, state))
            current = state
    for changed, old, state in events:
        rt.emails.notify(changed, old, state, ACTOR)


async def _suppress(rt: Runtime, addresses: list[str | None], reason: str, source: str) -> int:
    done = 0
    for address in dict.fromkeys(a for a in addresses if a):
        await rt.suppressions.add(address, reason=reason, source=source, actor=ACTOR)
        done += 1
    return done


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


async def _reply(rt: Runtime, record: InboundRecord, email: Email | None) -> list[str]:
    done = []
    category = record.category or "unknown"
    if email is not None:
        await _advance(
            rt,
            email,
            [(EmailState.REPLIED, {}), (EmailState.CATEGORIZED, {"category": category})],
            f"reply ({category})",
        )
        done.append("categorized")
    if record.lead_id is not None:
        await rt.enrollment.stop(record.lead_id, f"the lead replied ({category})", actor=ACTOR)
        done.append("stopped")
    if category == "unsubscribe":
        # The person who wrote, and the address we wrote to if they answered from another one.
        await _suppress(rt, [record.address, email.to_address if email else None], "unsubscribed", "reply")
        done.append("suppressed")
    return done


async def _auto_reply(rt: Runtime, record: InboundRecord, email: Email | None) -> list[str]:
    done = []
    if email is not None:
        await _advance(rt, email, [(EmailState.DELIVERED, {})], "an automatic reply proves delivery")
    until = _return_time(record.return_date)
    away = record.category == "out_of_office" and record.lead_id is not None
    if away and until is not None and until > rt.clock():
        await rt.enrollment.postpone(
            record.lead_id, until, f"out of office until {record.return_date}", actor=ACTOR
        )
        done.append("postponed")
    if record.category == "unsubscribe":
        await _suppress(rt, [record.address], "unsubscribed", "reply")
        done.append("suppressed")
    return done


async def _bounce(rt: Runtime, record: InboundRecord, email: Email | None) -> list[str]:
    if email is None or not record.detail.get("ours"):
        return []  # nothing of ours, or another address than the one we wrote to
    hard = record.bounce_class == "hard"
    source = "hard bounce"
    if not hard:
        count = await _soft_bounces(rt, record.address)
        if count < rt.settings.tracking.soft_bounce_limit:
            return ["recorded"]
        hard, source = True, f"{count} soft bounces"
    await _advance(rt, email, [(EmailState.BOUNCED, {})], source)
    await _suppress(rt, [record.address or email.to_address], "bounced", source)
    await rt.enrollment.stop(email.lead_id, f"an email to the lead bounced ({source})", actor=ACTOR)
    return ["bounced", "suppressed", "stopped"]


async def apply_effects(rt: Runtime, record: InboundRecord) -> list[str]:
    """Apply what ``record`` means for our emails, the lead and the suppression list; say what was done."""
    email = None
    if record.email_id is not None:
        try:
            email = await rt.emails.get(record.email_id)
        except NotFound:
            email = None
    if record.kind == "reply":
        return await _reply(rt, record, email)
    if record.kind == "auto_reply":
        return await _auto_reply(rt, record, email)
    if record.kind == "bounce":
        return await _bounce(rt, record, email)
    return []
