"""What ``outreach send --dry-run`` reports: what would go out now, and why the rest waits.

It runs the very plan the worker runs (policy, suppression, compliance checks) without
claiming or writing anything, then lists the queued emails that are not due yet.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import msgspec

from ...states import EmailState
from ...store.tables import EmailRow, EnrollmentRow
from .planner import plan

if TYPE_CHECKING:
    from ...runtime import Runtime


class DryRunItem(msgspec.Struct, kw_only=True):
    """One queued email and what would happen to it now."""

    email_id: int
    lead_id: int
    step_number: int
    mailbox: str | None
    sender: str | None
    action: str
    reason: str | None = None
    until: datetime | None = None


class DryRun(msgspec.Struct, kw_only=True):
    """What ``send --dry-run`` reports: what would go out now, and why the rest waits."""

    now: datetime
    items: list[DryRunItem] = []
    limits: list[str] = []
    followups_due: int = 0


async def explain(rt: Runtime, *, limit: int = 500) -> DryRun:
    """Plan without claiming or writing anything, and list the queued emails not due yet."""
    current = await plan(rt, limit=limit, dry_run=True)
    result = DryRun(now=current.now, limits=current.limits)
    for decision in current.decisions:
        email = decision.email
        result.items.append(
            DryRunItem(
                email_id=email.id,
                lead_id=email.lead_id,
                step_number=email.step_number,
                mailbox=email.mailbox,
                sender=decision.senders[0] if decision.senders else None,
                action=decision.action,
                reason=decision.reason,
                until=decision.until,
            )
        )
    seen = {item.email_id for item in result.items}
    rows = await (
        EmailRow.select(
            EmailRow.id,
            EmailRow.lead,
            EmailRow.step_number,
            EmailRow.mailbox,
            EmailRow.due_at,
            EmailRow.needs_attention,
        )
        .where(EmailRow.state == EmailState.QUEUED)
        .order_by(EmailRow.due_at)
        .limit(limit)
    )
    for row in rows:
        if row["id"] in seen:
            continue
        waiting_for = "is due later" if not row["needs_attention"] else "needs a person's attention"
        if row["mailbox"] in rt.mailboxes.names() and row["due_at"] and row["due_at"] <= current.now:
            waiting_for = "waits for its mailbox (see the limits)"
        result.items.append(
            DryRunItem(
                email_id=row["id"],
                lead_id=row["lead"],
                step_number=row["step_number"],
                mailbox=row["mailbox"],
                sender=None,
                action="wait",
                reason=waiting_for,
                until=row["due_at"],
            )
        )
    result.followups_due = await EnrollmentRow.count().where(
        (EnrollmentRow.state == "active") & (EnrollmentRow.next_due_at <= current.now)
    )
    return result
