"""Copying the SQLite store into an empty PostgreSQL database, ids kept, and checking the copy.

Piccolo binds tables to one engine at class level, so the copy does not go through the
tables: it reads the SQLite file with plain SQL (one read snapshot for every table, so the
counts hold together while the app is running) and writes PostgreSQL with asyncpg's
``executemany`` on one connection, in one transaction: the target ends with all of it or
none of it. Rows move in chunks ordered by id, so memory stays flat however big the store.

Values are converted by each column's Piccolo type; encrypted columns are text and move
unchanged, so the data key of the data directory still reads them on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from piccolo.columns import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    Real,
    Serial,
    Text,
    Timestamp,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import Column
from piccolo.querystring import QueryString
from piccolo.table import Table

from ..errors import ConfigError, OutreachError
from . import postgres
from .engine import open_database, open_postgres
from .tables import ALL_TABLES

if TYPE_CHECKING:
    from ..config import Settings

#: Rows read and written at a time.
CHUNK_ROWS = 1_000


class CopyError(OutreachError):
    """The store could not be copied; nothing was written to the target."""


class TableCount(msgspec.Struct, frozen=True):
    """One table's rows in the source and, after the copy, in the target."""

    table: str
    source: int
    target: int


class CopyReport(msgspec.Struct, frozen=True):
    """What a copy did: where from, where to, and every table's counts."""

    source: str
    target: str
    tables: list[TableCount]

    @property
    def rows(self) -> int:
        """Rows copied in all."""
        return sum(count.target for count in self.tables)


def _timestamp(value: Any, aware: bool) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        # Piccolo writes UTC; a naive value in the file is UTC too.
        moment = moment.replace(tzinfo=UTC)
    # PostgreSQL's ``timestamp`` takes naive values: UTC, as the store keeps them.
    return moment if aware else moment.astimezone(UTC).replace(tzinfo=None)


def _boolean(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("1", "t", "true")
    return bool(value)


def _json(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _of(kind: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else kind(value)


def converter(column: Column) -> Callable[[Any], Any]:
    """The function that turns what SQLite holds for ``column`` into what asyncpg writes."""
    # Subclasses match their base: BigInt is an Integer, JSONB a JSON, Email a Varchar.
    if isinstance(column, Timestamptz):
        return lambda value: _timestamp(value, aware=True)
    if isinstance(column, Timestamp):
        return lambda value: _timestamp(value, aware=False)
    if isinstance(column, Boolean):
        return _boolean
    if isinstance(column, JSON):
        return _json
    if isinstance(column, Real):
        return _of(float)
    if isinstance(column, (Integer, Serial, ForeignKey)):
        return _of(int)
    if isinstance(column, (Varchar, Text)):
        return _of(str)
    raise TypeError(f"no conversion to PostgreSQL for {type(column).__name__} column {column._meta.name}")


def copy_order(tables: Sequence[type[Table]] = ALL_TABLES) -> list[type[Table]]:
    """``tables`` with every table after the tables its foreign keys point at (else in their order)."""
    ordered: list[type[Table]] = []
    pending = list(tables)

    def ready(table: type[Table]) -> bool:
        referenced = (key._foreign_key_meta.resolved_references for key in table._meta.foreign_key_columns)
        return all(other is table or other not in pending for other in referenced)

    while pending:
        table = next((table for table in pending if ready(table)), None)
        if table is None:
            names = ", ".join(table._meta.tablename for table in pending)
            raise TypeError(f"the foreign keys of {names} go round in a circle")
        ordered.append(table)
        pending.remove(table)
    return ordered


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _TablePlan:
    """How one table is read from SQLite and written to PostgreSQL."""

    def __init__(self, table: type[Table]) -> None:
        self.name = table._meta.tablename
        columns = table._meta.columns
        self.key = table._meta.primary_key._meta.db_column_name
        self.columns = [column._meta.db_column_name for column in columns]
        self.converters = [converter(column) for column in columns]
        listed = ", ".join(_quoted(name) for name in self.columns)
        table_name = _quoted(self.name)
        key = _quoted(self.key)
        # QueryString's placeholders are {}: the last id read and the chunk's size.
        self.select = f"SELECT {listed} FROM {table_name} WHERE {key} > {{}} ORDER BY {key} LIMIT {{}}"
        placeholders = ", ".join(f"${index}" for index in range(1, len(self.columns) + 1))
        self.insert = f"INSERT INTO {table_name} ({listed}) VALUES ({placeholders})"

    def record(self, row: dict[str, Any]) -> tuple[Any, ...]:
        """The values of ``row`` in column order, as PostgreSQL takes them."""
        return tuple(convert(row[name]) for name, convert in zip(self.columns, self.converters, strict=True))


async def _source_count(engine: Any, table: str) -> int:
    rows = await engine.run_ddl(f"SELECT count(*) AS n FROM {_quoted(table)}")
    return int(rows[0]["n"])


async def _copy_table(sqlite: Any, connection: Any, plan: _TablePlan, chunk_rows: int) -> int | None:
    """Copy one table chunk by chunk; return its highest id (None when it is empty)."""
    last: int | None = None
    while True:
        rows = await sqlite.run_querystring(
            QueryString(plan.select, last if last is not None else -1, chunk_rows)
        )
        if not rows:
            return last
        await connection.executemany(plan.insert, [plan.record(row) for row in rows])
        last = int(rows[-1][plan.key])


async def _set_sequence(connection: Any, plan: _TablePlan, highest: int | None) -> None:
    """Make the table's next id the one after ``highest`` (1 for an empty table)."""
    sequence = f"pg_get_serial_sequence('{_quoted(plan.name)}', '{plan.key}')"
    if highest is None:
        await connection.execute(f"SELECT setval({sequence}, 1, false)")
    else:
        await connection.execute(f"SELECT setval({sequence}, $1)", highest)


async def _refuse_rows(connection: Any, plans: Sequence[_TablePlan], target: str) -> None:
    for plan in plans:
        if await connection.fetchval(f"SELECT EXISTS (SELECT 1 FROM {_quoted(plan.name)})"):
            raise CopyError(
                f"The PostgreSQL database {target} is not empty: table {plan.name} already has rows, "
                "so nothing was copied. Copy into a new, empty database (createdb <name>)."
            )


async def copy_tables(
    sqlite: Any, pg: Any, *, source: str, target: str, chunk_rows: int = CHUNK_ROWS
) -> CopyReport:
    """Copy every table from the open SQLite engine ``sqlite`` into the open PostgreSQL engine ``pg``.

    Both must be migrated to the current schema. Raise :class:`CopyError`, with nothing
    written, when the target already holds a row or a table's counts differ after the copy.
    """
    plans = [_TablePlan(table) for table in copy_order()]
    counts: list[TableCount] = []
    connection = await pg.pool.acquire()
    try:
        # One snapshot of the source for every table: the counts below are those of what was read.
        async with sqlite.transaction(), connection.transaction():
            # The app's writers on this database wait for the copy (they take the same lock).
            await connection.execute("SELECT pg_advisory_xact_lock($1)", postgres.WRITE_LOCK)
            await _refuse_rows(connection, plans, target)
            highest = {plan.name: await _copy_table(sqlite, connection, plan, chunk_rows) for plan in plans}
            for plan in plans:
                here = await _source_count(sqlite, plan.name)
                there = int(await connection.fetchval(f"SELECT count(*) FROM {_quoted(plan.name)}"))
                if here != there:
                    raise CopyError(
                        f"The copy of table {plan.name} has {there} rows where the SQLite database has "
                        f"{here}, so nothing was copied to {target}. Look for a trigger or a rule on "
                        f"{plan.name} in that database, then copy again."
                    )
                counts.append(TableCount(table=plan.name, source=here, target=there))
            # Last: a sequence's move is not undone by a rollback, and the copy can no longer fail.
            for plan in plans:
                await _set_sequence(connection, plan, highest[plan.name])
    finally:
        await pg.pool.release(connection)
    return CopyReport(source=source, target=target, tables=counts)


def check_copy(settings: Settings, url: str) -> Path:
    """The SQLite file to copy to ``url``; raise :class:`ConfigError` saying why it cannot be."""
    if settings.database.url:
        where = postgres.redacted(settings.database.url)
        raise ConfigError(
            f"The store is already on PostgreSQL ([database] url = {where}); db copy copies the SQLite "
            f"database: remove [database] url from the config to copy from {settings.database_path}."
        )
    problem = postgres.check_url(url)
    if problem:
        raise ConfigError(f"Cannot copy to {postgres.redacted(url)}: {problem}")
    path = Path(settings.database_path)
    if not path.exists():
        raise ConfigError(
            f"There is no SQLite database at {path} to copy; check --data-dir or [database] path."
        )
    return path


async def copy_store(
    settings: Settings, url: str, password: str | None = None, *, chunk_rows: int = CHUNK_ROWS
) -> CopyReport:
    """Copy the SQLite store ``settings`` name into the empty PostgreSQL database at ``url``.

    The source is opened as the app opens it (migrated), the target is migrated, and every
    table is copied in one transaction and checked (:func:`copy_tables`).
    """
    path = check_copy(settings, url)
    sqlite = await open_database(path, settings.database.busy_timeout)
    try:
        pg = await open_postgres(url, password, pool_size=2)
        try:
            return await copy_tables(sqlite, pg, source=str(path), target=url, chunk_rows=chunk_rows)
        finally:
            await pg.close_pool()
    finally:
        await sqlite.close_pool()
