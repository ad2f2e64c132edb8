"""The audit log: every change of a lead, an email or another record, with its actor."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import msgspec

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


class AuditValues(msgspec.Struct, frozen=True):
    """One audit row not yet written (personal data already redacted)."""

    entity: str
    entity_id: int
    action: str
    actor: str
    old_value: dict[str, Any] | None
    new_value: dict[str, Any] | None
    request_id: str | None
    created_at: datetime


def audit_row(
    entity: str,
    entity_id: int,
    action: str,
    actor: str,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
) -> AuditValues:
    """An unsaved audit row (personal data redacted, request id attached)."""
    return AuditValues(
        entity=entity,
        entity_id=entity_id,
        action=action,
        actor=actor,
        old_value=redact(old),
        new_value=redact(new),
        request_id=current_request_id(),
        created_at=datetime.now(UTC),
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
    await record_many([audit_row(entity, entity_id, action, actor, old, new)])


_COLUMNS = "entity, entity_id, action, actor, old_value, new_value, request_id, created_at"
#: Rows per INSERT statement (8 parameters each, well under SQLite's limit).
_CHUNK = 100


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else msgspec.json.encode(value).decode()


async def record_many(rows: Iterable[AuditValues]) -> None:
    """Write many audit rows at once (bulk actions, the outbox), in plain SQL.

    Building ORM rows costs more than writing them. On SQLite the rows travel as one
    JSON parameter expanded by ``json_each``; elsewhere as multi-row VALUES.
    """
    rows = list(rows)
    if not rows:
        return
    if current_engine().engine_type == "sqlite":
        for start in range(0, len(rows), 2000):
            chunk = rows[start : start + 2000]
            await AuditRow.raw(_JSON_INSERT, msgspec.json.encode([_values(row) for row in chunk]).decode())
        return
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        placeholders = ", ".join(["({}, {}, {}, {}, {}, {}, {}, {})"] * len(chunk))
        params: list[Any] = []
        for row in chunk:
            params += _values(row)
            params[-1] = row.created_at
        await AuditRow.raw(f"INSERT INTO audit_log ({_COLUMNS}) VALUES {placeholders}", *params)


def _values(row: AuditValues) -> list[Any]:
    return [
        row.entity,
        row.entity_id,
        row.action,
        row.actor,
        _json(row.old_value),
        _json(row.new_value),
        row.request_id,
        # The text Piccolo's SQLite adapter writes for an aware datetime (UTC, space-separated).
        str(row.created_at.astimezone(UTC)),
    ]


_JSON_INSERT = (
    f"INSERT INTO audit_log ({_COLUMNS}) "
    "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), "
    "json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'), "
    "json_extract(value, '$[6]'), json_extract(value, '$[7]') FROM json_each({})"
)


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
