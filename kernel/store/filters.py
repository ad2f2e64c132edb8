"""Conditions that Piccolo builds slowly, written once in SQL.

``column.is_in(ids)`` binds one parameter per value and converts each in Python,
which costs more than the query itself once a batch holds hundreds of ids. Here the
whole list is one parameter: a JSON array that SQLite unpacks with ``json_each``, or
an array PostgreSQL compares with ``= ANY``.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec
from piccolo.columns import Column
from piccolo.columns.combination import WhereRaw


def _qualified(column: Column) -> str:
    return f'"{column._meta.table._meta.tablename}"."{column._meta.db_column_name}"'


def utc_day(column: Column) -> str:
    """SQL for the UTC day (``YYYY-MM-DD``) of a timestamp column, as text on either engine."""
    name = f'"{column._meta.db_column_name}"'
    if getattr(column._meta.table._meta.db, "engine_type", "") == "postgres":
        return f"to_char({name} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    # SQLite keeps timestamps as ISO text in UTC: the day is its first ten characters.
    return f"substr({name}, 1, 10)"


def in_values(column: Column, values: Iterable[int | str]) -> WhereRaw:
    """``column IN (values)`` with the values bound as one parameter (an empty list matches nothing)."""
    if getattr(column._meta.table._meta.db, "engine_type", "") == "postgres":
        return WhereRaw(f"{_qualified(column)} = ANY({{}})", list(values))
    return WhereRaw(
        f"{_qualified(column)} IN (SELECT value FROM json_each({{}}))",
        msgspec.json.encode(list(values)).decode(),
    )
