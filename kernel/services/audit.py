"""The audit log: every change of a lead, an email or another record, with its actor."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..models import AuditEntry
from ..request_context import current_request_id
from ..store.mapping import audit_from_row
from ..store.tables import AuditRow

#: Fields whose values never enter the audit log in clear: it records that they changed.
PII_FIELDS = frozenset({"email", "phone", "contact_name", "to_address"})
REDACTED = "[redacted]"


def redact(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """``values`` with personal data replaced by a marker."""
    if values is None:
        return None
    return {key: (REDACTED if key in PII_FIELDS and value else value) for key, value in values.items()}


def audit_row(
    entity: str,
    entity_id: int,
    action: str,
    actor: str,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
) -> AuditRow:
    """An unsaved audit row (personal data redacted, request id attached)."""
    return AuditRow(
        entity=entity,
        entity_id=entity_id,
        action=action,
        actor=actor,
        old_value=redact(old),
        new_value=redact(new),
        request_id=current_request_id(),
    )


async def record(
    entity: str,
    entity_id: int,
    action: str,
    actor: str,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
) -> None:
    """Write one audit row; call it inside the transaction that makes the change."""
    await AuditRow.insert(audit_row(entity, entity_id, action, actor, old, new))


async def record_many(rows: Iterable[AuditRow]) -> None:
    """Write many audit rows in one statement (bulk actions)."""
    rows = list(rows)
    for start in range(0, len(rows), 500):
        await AuditRow.insert(*rows[start : start + 500])


async def trail(entity: str, entity_id: int) -> list[AuditEntry]:
    """Every audit row of one record, oldest first."""
    rows = (
        await AuditRow.select()
        .where((AuditRow.entity == entity) & (AuditRow.entity_id == entity_id))
        .order_by(AuditRow.id)
    )
    return [audit_from_row(row) for row in rows]


async def count(entity: str | None = None, entity_id: int | None = None) -> int:
    """How many audit rows there are, optionally for one entity or record."""
    query = AuditRow.count()
    if entity is not None:
        query = query.where(AuditRow.entity == entity)
    if entity_id is not None:
        query = query.where(AuditRow.entity_id == entity_id)
    return await query
