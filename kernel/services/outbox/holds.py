"""Emails held back for missing legal settings, released the moment the settings may be complete.

The compliance plugin defers a message of a real sender while the law's settings are
missing, and looks again an hour later. A person who fixes the settings should not wait
that hour: when settings are applied (saved in the browser) and whenever a worker
starts (the file may have changed), every such email becomes due now with its stale
reason cleared. The next plan judges it again: it goes out, or is held again with the
reason that holds now.
"""

from __future__ import annotations

from datetime import datetime

from ...compliance import LEGAL_HOLD
from ...states import EmailState
from ...store.engine import write_transaction
from ...store.tables import EmailRow
from .. import audit
from ..transitions import utcnow


async def release_legal_holds(now: datetime, *, actor: str) -> list[int]:
    """Make every queued email held for missing legal settings due at ``now``; their ids."""
    async with write_transaction():
        released = await (
            EmailRow.update(
                {
                    EmailRow.due_at: now,
                    EmailRow.last_error: None,
                    EmailRow.version: EmailRow.version + 1,
                    EmailRow.updated_at: utcnow(),
                }
            )
            .where(
                (EmailRow.state == EmailState.QUEUED)
                & EmailRow.last_error.like(f"{LEGAL_HOLD}%")
                & EmailRow.needs_attention.eq(False)
            )
            .returning(EmailRow.id)
        )
        ids = [row["id"] for row in released]
        await audit.record_many(
            audit.audit_values(
                "email", email_id, "hold_released", actor, new={"reason": "the settings changed"}
            )
            for email_id in ids
        )
    return ids
