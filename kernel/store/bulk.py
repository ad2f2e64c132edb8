"""Inserting many rows with one ``executemany``, for the writes that come by the thousand.

Piccolo builds a ``Table`` object and a parameter list per row and converts every value
in Python; enrolling 2,000 leads spent most of its time there. :func:`insert_rows`
takes plain dicts, fills each missing column with the column's own default, converts
values as Piccolo does, and hands SQLite one statement for all of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from piccolo.columns import JSON, JSONB, Column
from piccolo.columns.defaults.base import Default
from piccolo.table import Table
from piccolo.utils.sql_values import convert_to_sql_value

from .engine import current_engine


def _default(column: Column) -> Any:
    """The value Piccolo would give ``column`` when a row leaves it out."""
    value = column.get_default_value()
    return value.python() if isinstance(value, Default) else value


#: Values Piccolo hands to SQLite unchanged, outside JSON columns (the sqlite3 adapters
#: Piccolo registers turn datetimes into text); everything else is converted as Piccolo does.
_PLAIN = frozenset({str, int, float, bool, bytes, datetime, type(None)})


def _sql(value: Any, column: Column, json: bool) -> Any:
    return value if not json and type(value) in _PLAIN else convert_to_sql_value(value, column)


async def insert_rows(table: type[Table], rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (column name -> value) into ``table`` inside the caller's transaction.

    Without a SQLite transaction to write on, the rows go through Piccolo one batch at a time.
    """
    if not rows:
        return
    transaction = current_engine().current_transaction.get()
    connection = getattr(transaction, "connection", None)
    if connection is None or not hasattr(connection, "executemany"):
        for start in range(0, len(rows), 500):
            await table.insert(*[table(**row) for row in rows[start : start + 500]])
        return
    columns = [column for column in table._meta.columns if not column._meta.primary_key]
    names = ", ".join(f'"{column._meta.db_column_name}"' for column in columns)
    marks = ", ".join("?" for _ in columns)
    # Read once per call (Piccolo's column names are properties): name, default, column, JSON?
    known = [
        (column._meta.name, _default(column), column, isinstance(column, JSON | JSONB)) for column in columns
    ]
    names_known = {name for name, _, _, _ in known}
    values = []
    for row in rows:
        unknown = row.keys() - names_known
        if unknown:
            raise ValueError(f"{table._meta.tablename} has no column {sorted(unknown)[0]!r}")
        values.append(
            tuple(_sql(row.get(name, default), column, json) for name, default, column, json in known)
        )
    if getattr(transaction.engine, "engine_type", "") == "postgres":
        marks = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
    await connection.executemany(f'INSERT INTO "{table._meta.tablename}" ({names}) VALUES ({marks})', values)


async def update_rows(table: type[Table], rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Update many rows inside the caller's transaction: each ``(values, where)`` sets ``values``
    (column name -> value) on the row whose columns equal ``where``.

    Rows that set the same columns go in one ``executemany``: a batch of analyzed leads is one
    statement, where one ``UPDATE`` each cost a thread hand-over apiece and, with the event
    loop busy reading sites, most of the batch's time. Without a transaction's connection to
    write on, each row goes through Piccolo.
    """
    if not rows:
        return
    transaction = current_engine().current_transaction.get()
    connection = getattr(transaction, "connection", None)
    by_name = {column._meta.name: column for column in table._meta.columns}
    if connection is None or not hasattr(connection, "executemany"):
        for values, where in rows:
            condition = None
            for name, value in where.items():
                part = by_name[name] == value
                condition = part if condition is None else condition & part
            await table.update({by_name[name]: value for name, value in values.items()}).where(condition)
        return
    postgres = getattr(transaction.engine, "engine_type", "") == "postgres"
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[tuple[Any, ...]]] = {}
    for values, where in rows:
        key = (tuple(values), tuple(where))
        columns = [by_name[name] for name in (*key[0], *key[1])]
        groups.setdefault(key, []).append(
            tuple(
                _sql(value, column, isinstance(column, JSON | JSONB))
                for value, column in zip((*values.values(), *where.values()), columns, strict=True)
            )
        )
    for (set_names, where_names), values in groups.items():
        count = len(set_names) + len(where_names)
        marks = [f"${n}" for n in range(1, count + 1)] if postgres else ["?"] * count
        names = [by_name[name]._meta.db_column_name for name in (*set_names, *where_names)]
        terms = [f'"{name}" = {mark}' for name, mark in zip(names, marks, strict=True)]
        assignments = ", ".join(terms[: len(set_names)])
        condition = " AND ".join(terms[len(set_names) :])
        await connection.executemany(
            f'UPDATE "{table._meta.tablename}" SET {assignments} WHERE {condition}', values
        )
