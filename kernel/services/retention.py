"""Retention: leads nobody will write to are deleted ``[compliance] retention_days`` after their last change.

A lead rejected in review, expired, or failed in analysis is kept for a while (a
person may undo a review, retry a failure), then deleted with everything attached to
it, as data protection law asks of data no longer needed. Suppression entries are
never purged. The ``retention`` job does this; the periodic tasks queue it once a day.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from ..models import Job
from ..states import LeadState
from ..store.engine import write_transaction
from ..store.tables import EmailRow, LeadRow
from . import audit

if TYPE_CHECKING:
    from ..job_runner import JobProgress
    from ..runtime import Runtime

log = structlog.get_logger("outreach.retention")

JOB_KIND = "retention"
ACTOR = "system:retention"
#: Lead states that end a lead's story without outreach.
PURGEABLE = (LeadState.REJECTED, LeadState.EXPIRED, LeadState.FAILED)
BATCH = 200


async def purge_expired(rt: Runtime, now: datetime | None = None, progress: JobProgress | None = None) -> int:
    """Delete the leads past retention; how many were deleted."""
    now = now or rt.clock()
    days = rt.settings.compliance.retention_days
    cutoff = now - timedelta(days=days)
    purged = 0
    while True:
        async with write_transaction():
            rows = await (
                LeadRow.select(LeadRow.id, LeadRow.lifecycle_state)
                .where(LeadRow.lifecycle_state.is_in(list(PURGEABLE)) & (LeadRow.updated_at < cutoff))
                .order_by(LeadRow.id)
                .limit(BATCH)
            )
            ids = [row["id"] for row in rows]
            if not ids:
                break
            message_ids = [
                row["message_id"]
                for row in await EmailRow.select(EmailRow.message_id).where(EmailRow.lead.is_in(ids))
                if row["message_id"]
            ]
            await LeadRow.delete().where(LeadRow.id.is_in(ids))
            await audit.record_many(
                audit.audit_values(
                    "lead",
                    row["id"],
                    "purged",
                    ACTOR,
                    old={"lifecycle_state": row["lifecycle_state"]},
                    new={"reason": f"{row['lifecycle_state']} for more than {days} days"},
                )
                for row in rows
            )
        if message_ids:
            rt.plugins.notify("address_erased", message_ids=message_ids, context=rt.plugins.context)
        purged += len(ids)
        if progress is not None:
            progress.advance(len(ids))
            progress.count("purged", len(ids))
    if purged:
        log.info("leads_purged", count=purged, retention_days=days)
    return purged


async def run_retention(rt: Runtime, job: Job, progress: JobProgress) -> dict[str, Any]:
    """The ``retention`` job: purge what is past retention now."""
    purged = await purge_expired(rt, progress=progress)
    return {"purged": purged, "retention_days": rt.settings.compliance.retention_days}
