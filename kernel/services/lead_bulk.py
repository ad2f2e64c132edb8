"""Moving many leads at once: one transaction, chunked updates, one batch of audit rows.

Leads that cannot make the move are skipped with a reason a person can read, so
thousands of leads move in about a second and nothing moves that should not.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import msgspec

from ..states import LEAD_MACHINE, LeadState
from ..store.engine import write_transaction
from ..store.filters import in_values
from ..store.mapping import lead_from_row
from ..store.tables import EmailRow, LeadRow
from . import audit
from .transitions import utcnow

if TYPE_CHECKING:
    from ..runtime import Runtime


class BulkResult(msgspec.Struct, kw_only=True):
    """The outcome of a bulk state change: what moved, and why the rest did not."""

    changed: list[int] = []
    skipped: dict[int, str] = {}


async def transition_many(rt: Runtime, lead_ids: Iterable[int], new_state: str, *, actor: str) -> BulkResult:
    """Move many leads at once; leads that cannot make the move are skipped with a reason.

    One transaction, chunked updates and one batch of audit rows, so thousands
    of leads move in about a second.
    """
    ids = sorted(set(lead_ids))
    result = BulkResult()
    sources = LEAD_MACHINE.sources_of(new_state)
    now = utcnow()
    changed_rows: list[tuple[dict[str, Any], str]] = []
    # Whole rows only when a plugin listens for the event (it gets each Lead).
    listens = rt.plugins.listens("lead_transitioned")
    returned = LeadRow.all_columns() if listens else [LeadRow.id]
    async with write_transaction():
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = await LeadRow.select(LeadRow.id, LeadRow.lifecycle_state).where(
                in_values(LeadRow.id, chunk)
            )
            states = {row["id"]: row["lifecycle_state"] for row in rows}
            for lead_id in chunk:
                state = states.get(lead_id)
                if state is None:
                    result.skipped[lead_id] = "no such lead"
                elif state not in sources:
                    result.skipped[lead_id] = f"cannot go from '{state}' to '{new_state}'"
            movable = [i for i in chunk if i in states and states[i] in sources]
            if new_state == LeadState.PENDING_REVIEW and movable:
                movable = await _without_outreach(movable, result)
            if not movable:
                continue
            updated = await (
                LeadRow.update(
                    {
                        LeadRow.lifecycle_state: new_state,
                        LeadRow.version: LeadRow.version + 1,
                        LeadRow.updated_at: now,
                    }
                )
                .where(in_values(LeadRow.id, movable) & LeadRow.lifecycle_state.is_in(list(sources)))
                .returning(*returned)
            )
            changed_rows.extend((row, states[row["id"]]) for row in updated)
        await audit.record_many(
            audit.audit_values(
                "lead",
                row["id"],
                f"transition:{old}->{new_state}",
                actor,
                old={"lifecycle_state": old},
                new={"lifecycle_state": new_state, "bulk": True},
            )
            for row, old in changed_rows
        )
    result.changed = [row["id"] for row, _ in changed_rows]
    if listens:
        for row, old in changed_rows:
            rt.plugins.notify(
                "lead_transitioned",
                lead=lead_from_row(row, rt.vault),
                old_state=old,
                new_state=new_state,
                actor=actor,
            )
    return result


async def _without_outreach(ids: list[int], result: BulkResult) -> list[int]:
    mailed = {
        row["lead"]
        for row in await EmailRow.select(EmailRow.lead).where(
            in_values(EmailRow.lead, ids) & (EmailRow.state != "cancelled")
        )
    }
    for lead_id in mailed:
        result.skipped[lead_id] = "an email to this lead is already in the outbox"
    return [i for i in ids if i not in mailed]
