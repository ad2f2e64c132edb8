"""What a person does to one email: retry a failed one, cancel a queued one, settle an interrupted one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import OutreachError
from ...models import Email
from ...states import EmailState
from ...store.engine import write_transaction
from .ledger import schedule_next_steps

if TYPE_CHECKING:
    from ...runtime import Runtime


async def retry(rt: Runtime, email_id: int, *, actor: str) -> Email:
    """Queue a failed email again, due now, with its tries counted from zero."""
    return await rt.emails.transition(
        email_id,
        EmailState.QUEUED,
        actor=actor,
        reason="retried by a person",
        changes={"due_at": rt.clock(), "attempts": 0, "last_error": None, "needs_attention": False},
    )


async def cancel(rt: Runtime, email_id: int, *, actor: str) -> Email:
    """Cancel a queued email; the lead's sequence stops with it."""
    email = await rt.emails.transition(
        email_id,
        EmailState.CANCELLED,
        actor=actor,
        reason="cancelled by a person",
        changes={"last_error": "cancelled by a person"},
    )
    await rt.enrollment.stop(email.lead_id, "an email of the sequence was cancelled by a person", actor=actor)
    return email


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
