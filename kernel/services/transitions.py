"""Applying a state change: checked, versioned, audited, in one transaction.

Both state machines go through :func:`apply_transition`. It checks the pair against
the machine, bumps ``version`` with a conditional update (a stale version is a
:class:`~outreach.kernel.errors.ConcurrentUpdate`), writes the audit row, and commits;
the caller fires the event hook after the commit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from piccolo.table import Table

from ..errors import ConcurrentUpdate, NotFound
from ..states import StateMachine, check_transition
from . import audit


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


async def apply_transition(
    table: type[Table],
    machine: StateMachine,
    state_column: str,
    record_id: int,
    new_state: str,
    *,
    actor: str,
    expected_version: int | None = None,
    changes: dict[str, Any] | None = None,
    audit_changes: dict[str, Any] | None = None,
    reason: str | None = None,
) -> tuple[dict[str, Any], str]:
    """Move one record to ``new_state``; must run inside a write transaction.

    :param changes: other column values to write in the same update (already in
        column form, e.g. encrypted).
    :param audit_changes: what to record about ``changes`` in the audit row
        (defaults to ``changes``; personal data is redacted either way).
    :return: the updated row and the state it left.
    """
    columns = table._meta.columns
    state_col = getattr(table, state_column)
    row = (
        await table.select(table._meta.primary_key, state_col, table.version)
        .where(  # type: ignore[attr-defined]
            table._meta.primary_key == record_id
        )
        .first()
    )
    if row is None:
        raise NotFound(f"There is no {machine.entity} with id {record_id}.")
    old_state, version = row[state_column], row["version"]
    if expected_version is not None and version != expected_version:
        raise ConcurrentUpdate(machine.entity, record_id, expected_version)
    check_transition(machine, old_state, new_state)
    values: dict[Any, Any] = {
        state_col: new_state,
        table.version: version + 1,  # type: ignore[attr-defined]
        table.updated_at: utcnow(),  # type: ignore[attr-defined]
    }
    for name, value in (changes or {}).items():
        values[getattr(table, name)] = value
    updated = await (
        table.update(values)
        .where((table._meta.primary_key == record_id) & (table.version == version))  # type: ignore[attr-defined]
        .returning(*columns)
    )
    if not updated:
        raise ConcurrentUpdate(machine.entity, record_id, version)
    new_values: dict[str, Any] = {state_column: new_state}
    new_values.update(audit_changes if audit_changes is not None else (changes or {}))
    if reason:
        new_values["reason"] = reason
    await audit.record(
        machine.entity,
        record_id,
        f"transition:{old_state}->{new_state}",
        actor,
        old={state_column: old_state},
        new=_jsonable(new_values),
    )
    return updated[0], old_state


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    """Audit values as JSON-friendly data (datetimes as ISO text)."""
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in values.items()}
