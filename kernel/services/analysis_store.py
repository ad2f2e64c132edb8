"""Where the analysis job reads and writes leads: a batch at a time, one transaction each.

A lead's analysis used to cost two write transactions of five or six statements each
(claim; store the records; two transitions), and the job spent most of its time
waiting for SQLite's write lock rather than reading sites. Here a batch of leads is
claimed with one update, and a batch of outcomes is stored with one versioned update
per lead and one ``executemany`` of audit rows, in one transaction. The audit trail
and the versions are the same as lead by lead: an ``enriched`` row and one
``transition`` row per step, one version per change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from ..models import EnrichmentRecord, Lead
from ..states import LEAD_MACHINE, LeadState, check_transition
from ..store.bulk import update_rows
from ..store.engine import write_transaction
from ..store.filters import in_values
from ..store.mapping import enrichment_column, lead_columns, lead_from_row
from ..store.tables import LeadRow
from . import audit
from .transitions import utcnow

if TYPE_CHECKING:
    from ..runtime import Runtime

L = LeadState

#: The states a lead may be in when a job takes it: waiting, or left by a job that died.
TAKEN_FROM = (L.DISCOVERED, L.ANALYZING, L.ANALYZED)


class Finished(msgspec.Struct, kw_only=True):
    """What to store for one analyzed lead: its records, the fields they set, and where it goes."""

    lead: Lead
    records: list[EnrichmentRecord]
    fields: dict[str, Any]
    #: None: on to review; a sentence: the lead fails with it.
    failure: str | None = None


def _plain(value: Any) -> Any:
    return msgspec.to_builtins(value) if value is not None else None


async def claim(rt: Runtime, lead_ids: list[int], *, actor: str) -> tuple[list[Lead], dict[int, str | None]]:
    """Take ``lead_ids`` for analysis: discovered ones move to ``analyzing``, in one transaction.

    :return: the leads taken (in the order asked), and for the others the state they are
        in now (None when there is no such lead).
    """
    now = utcnow()
    claimed: set[int] = set()
    async with write_transaction():
        rows = {
            row["id"]: row
            for row in await LeadRow.select(*LeadRow.all_columns()).where(in_values(LeadRow.id, lead_ids))
        }
        waiting = [i for i in lead_ids if i in rows and rows[i]["lifecycle_state"] == L.DISCOVERED]
        if waiting:
            updated = await (
                LeadRow.update(
                    {
                        LeadRow.lifecycle_state: L.ANALYZING,
                        LeadRow.version: LeadRow.version + 1,
                        LeadRow.updated_at: now,
                    }
                )
                .where(in_values(LeadRow.id, waiting) & (LeadRow.lifecycle_state == L.DISCOVERED))
                .returning(*LeadRow.all_columns())
            )
            rows.update({row["id"]: row for row in updated})
            claimed = {row["id"] for row in updated}
            await audit.record_many(
                audit.audit_values(
                    "lead",
                    lead_id,
                    f"transition:{L.DISCOVERED}->{L.ANALYZING}",
                    actor,
                    old={"lifecycle_state": L.DISCOVERED},
                    new={"lifecycle_state": L.ANALYZING},
                )
                for lead_id in waiting
                if lead_id in claimed
            )
    taken: list[Lead] = []
    others: dict[int, str | None] = {}
    for lead_id in lead_ids:
        row = rows.get(lead_id)
        if row is not None and row["lifecycle_state"] in TAKEN_FROM:
            taken.append(lead_from_row(row, rt.vault))
        else:
            others[lead_id] = row["lifecycle_state"] if row is not None else None
    for lead in taken:
        if lead.id in claimed:
            rt.leads.notify(lead, L.DISCOVERED, L.ANALYZING, actor)
    return taken, others


def _steps(lead: Lead, failure: str | None) -> list[tuple[str, str, dict[str, Any]]]:
    """The moves from the lead's state: ``(old, new, changes)`` each, checked against the machine."""
    if failure is not None:
        targets: list[tuple[str, dict[str, Any]]] = [(L.FAILED, {"failure_reason": failure})]
    elif lead.lifecycle_state == L.ANALYZING:
        targets = [(L.ANALYZED, {"failure_reason": None}), (L.PENDING_REVIEW, {})]
    else:
        targets = [(L.PENDING_REVIEW, {})]
    steps, state = [], lead.lifecycle_state
    for target, changes in targets:
        check_transition(LEAD_MACHINE, state, target)
        steps.append((state, target, changes))
        state = target
    return steps


async def finish(rt: Runtime, batch: list[Finished], *, actor: str) -> tuple[dict[int, str], list[int]]:
    """Store every outcome of ``batch`` and move each lead on, in one transaction.

    A lead changed by someone else since it was claimed (its version moved) is left as
    they left it. Fires ``lead_transitioned`` for every move after the commit.

    :return: the state each stored lead is in now, and the ids of the leads left alone.
    """
    now = utcnow()
    vault = rt.vault
    # Whole rows (decrypted into Leads) only when a plugin listens for the event.
    listens = rt.plugins.listens("lead_transitioned")
    stored: dict[int, str] = {}
    moved: list[tuple[Lead, list[tuple[str, str, dict[str, Any]]]]] = []
    changed_meanwhile: list[int] = []
    rows: list[audit.AuditValues] = []
    updates: list[tuple[dict[str, Any], dict[str, Any]]] = []
    steps_of: dict[int, list[tuple[str, str, dict[str, Any]]]] = {}
    async with write_transaction():
        # Read inside the write lock, so no one changes a lead between this and the update.
        versions = {
            row["id"]: row["version"]
            for row in await LeadRow.select(LeadRow.id, LeadRow.version).where(
                in_values(LeadRow.id, [item.lead.id for item in batch])
            )
        }
        for item in batch:
            lead = item.lead
            steps = _steps(lead, item.failure)
            if versions.get(lead.id) != lead.version:
                changed_meanwhile.append(lead.id)
                continue
            columns: dict[str, Any] = dict(lead_columns(item.fields, vault))
            if item.records:
                enrichment = {**lead.enrichment, **{record.enricher: record for record in item.records}}
                columns["enrichment"] = enrichment_column(enrichment, vault)
            for _old, _new, changes in steps:
                columns.update(changes)
            columns["lifecycle_state"] = steps[-1][1]
            columns["version"] = lead.version + len(steps) + (1 if item.records else 0)
            columns["updated_at"] = now
            updates.append((columns, {"id": lead.id, "version": lead.version}))
            if item.records:
                changed = {name: value for name, value in item.fields.items() if getattr(lead, name) != value}
                rows.append(
                    audit.audit_values(
                        "lead",
                        lead.id,
                        "enriched",
                        actor,
                        old={name: _plain(getattr(lead, name)) for name in changed},
                        new={"enrichers": [record.enricher for record in item.records], **changed},
                    )
                )
            for old, new, changes in steps:
                rows.append(
                    audit.audit_values(
                        "lead",
                        lead.id,
                        f"transition:{old}->{new}",
                        actor,
                        old={"lifecycle_state": old},
                        new={"lifecycle_state": new, **changes},
                    )
                )
            stored[lead.id] = steps[-1][1]
            steps_of[lead.id] = steps
        await update_rows(LeadRow, updates)
        if listens and stored:
            for row in await LeadRow.select(*LeadRow.all_columns()).where(
                in_values(LeadRow.id, list(stored))
            ):
                moved.append((lead_from_row(row, vault), steps_of[row["id"]]))
        await audit.record_many(rows)
    for lead, steps in moved:
        for old, new, _changes in steps:
            rt.leads.notify(msgspec.structs.replace(lead, lifecycle_state=new), old, new, actor)
    return stored, changed_meanwhile
