"""Conditions that Piccolo builds slowly, written once in SQL.

``column.is_in(ids)`` binds one parameter per value and converts each in Python,
which costs more than the query itself once a batch holds hundreds of ids. Here the
whole list is one JSON parameter that SQLite unpacks with ``json_each``.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec
from piccolo.columns import Column
from piccolo.columns.combination import WhereRaw


def _qualified(column: Column) -> str:
    return f'"{column._meta.table._meta.tablename}"."{column._meta.db_column_name}"'


def in_values(column: Column, values: Iterable[int | str]) -> WhereRaw:
    """``column IN (values)`` with the values bound as one JSON array (an empty list matches nothing)."""
    return WhereRaw(
        f"{_qualified(column)} IN (SELECT value FROM json_each({{}}))",
        msgspec.json.encode(list(values)).decode(),
    )
