"""``sent -> delivered``: an email no bounce came back for within ``[tracking] delivered_after_hours``.

Bounces come back within minutes, or hours for a server that retried; silence after
the window is as close to a delivery receipt as email gives. The change is made in
batches, each email version-checked and audited like any other transition.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from ..states import EMAIL_MACHINE, EmailState, check_transition
from ..store.engine import write_transaction
from ..store.mapping import email_from_row
from ..store.tables import EmailRow
from . import audit

if TYPE_CHECKING:
    from ..runtime import Runtime

log = structlog.get_logger("outreach.tracking")
ACTOR = "system:delivery"


async def mark_delivered(rt: Runtime, now: datetime | None = None, batch: int = 500) -> list[int]:
    """Move every email sent before the window and not bounced to ``delivered``; their ids."""
    check_transition(EMAIL_MACHINE, EmailState.SENT, EmailState.DELIVERED)
    now = now or rt.clock()
    hours = rt.settings.tracking.delivered_after_hours
    cutoff = now - timedelta(hours=hours)
    moved: list[int] = []
    while True:
        events = []
        async with write_transaction():
            rows = await (
                EmailRow.select()
                .where((EmailRow.state == EmailState.SENT) & (EmailRow.sent_at < cutoff))
                .order_by(EmailRow.id)
                .limit(batch)
            )
            audits = []
            for row in rows:
                updated = await (
                    EmailRow.update(
                        {
                            EmailRow.state: EmailState.DELIVERED,
                            EmailRow.version: row["version"] + 1,
                            EmailRow.updated_at: now,
                        }
                    )
                    .where(
                        (EmailRow.id == row["id"])
                        & (EmailRow.version == row["version"])
                        & (EmailRow.state == EmailState.SENT)
                    )
                    .returning(EmailRow.id)
                )
                if not updated:
                    continue
                email = email_from_row(
                    {**row, "state": EmailState.DELIVERED, "version": row["version"] + 1}, rt.vault
                )
                events.append(email)
                audits.append(
                    audit.audit_values(
                        "email",
                        email.id,
                        f"transition:{EmailState.SENT}->{EmailState.DELIVERED}",
                        ACTOR,
                        old={"state": EmailState.SENT},
                        new={"state": EmailState.DELIVERED, "reason": f"no bounce within {hours:g} h"},
                    )
                )
            await audit.record_many(audits)
        for email in events:
            rt.emails.notify(email, EmailState.SENT, EmailState.DELIVERED, ACTOR)
        moved.extend(email.id for email in events)
        if len(rows) < batch:
            break
    if moved:
        log.info("emails_delivered", count=len(moved))
    return moved
