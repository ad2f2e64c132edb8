"""The audit log: every change of a lead, an email or another record, with its actor."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from ..models import AuditEntry
from ..request_context import current_request_id
from ..store.engine import current_engine
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


class AuditValues(NamedTuple):
    """One audit row as plain values, cheaper to build by the thousand than an :class:`AuditRow`."""

    entity: str
    entity_id: int
    action: str
    actor: str
    old_value: dict[str, Any] | None = None
    new_value: dict[str, Any] | None = None


def audit_values(
    entity: str,
    entity_id: int,
    action: str,
    actor: str,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
) -> AuditValues:
    """One audit row's values, personal data redacted (for :func:`record_many`)."""
    return AuditValues(entity, entity_id, action, actor, redact(old), redact(new))


_INSERT = (
    "INSERT INTO audit_log (entity, entity_id, action, actor, old_value, new_value, request_id, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_POSTGRES = _INSERT.replace("(?, ?, ?, ?, ?, ?, ?, ?)", "($1, $2, $3, $4, $5, $6, $7, $8)")


def _dumps(value: Any, cache: dict[Any, str]) -> str | None:
    """JSON text of an audit value; a bulk action repeats the same few values, so remember them."""
    if value is None:
        return None
    try:
        key = tuple(sorted(value.items()))
        hash(key)
    except (AttributeError, TypeError):
        return json.dumps(value, default=str)
    if key not in cache:
        cache[key] = json.dumps(value, default=str)
    return cache[key]


async def record_many(rows: Iterable[AuditValues]) -> None:
    """Write many audit rows at once (bulk actions); call it inside the transaction that makes the change.

    Inside a SQLite transaction the rows go in with one ``executemany`` on that
    transaction's connection: building thousands of ORM objects and statements took
    most of a 10,000-lead bulk approve.
    """
    rows = list(rows)
    if not rows:
        return
    transaction = current_engine().current_transaction.get()
    connection = getattr(transaction, "connection", None)
    if connection is None or not hasattr(connection, "executemany"):
        objects = [AuditRow(**row._asdict(), request_id=current_request_id()) for row in rows]
        for start in range(0, len(objects), 500):
            await AuditRow.insert(*objects[start : start + 500])
        return
    request_id = current_request_id()
    postgres = getattr(transaction.engine, "engine_type", "") == "postgres"
    # asyncpg takes the datetime itself; SQLite keeps it as Piccolo writes it, as text.
    now: Any = datetime.now(UTC) if postgres else datetime.now(UTC).isoformat(sep=" ")
    values = []
    cache: dict[Any, str] = {}
    for row in rows:
        values.append(
            (row.entity, row.entity_id, row.action, row.actor, _dumps(row.old_value, cache),
             _dumps(row.new_value, cache), request_id, now)
        )  # fmt: skip
    await connection.executemany(_INSERT_POSTGRES if postgres else _INSERT, values)


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
