"""The store on PostgreSQL: Piccolo's asyncpg engine, with SQLite's one-writer-at-a-time rule.

The services were written for SQLite, where ``BEGIN IMMEDIATE`` lets one write
transaction run at a time: a check made inside it (is this lead already enrolled? how
many did this mailbox send today?) still holds when the transaction commits. On
PostgreSQL a write transaction takes the same guarantee from a transaction-level
advisory lock, so the rules hold across every process and machine on one database
while reads run side by side. Migrations take a session-level advisory lock of their
own, as the file lock does for SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from piccolo.engine.sqlite import TransactionType

from ..errors import ConfigError

#: The advisory lock every write transaction holds until it ends (any constant, ours alone).
WRITE_LOCK = 0x6F75747265616368  # "outreach"
#: The advisory lock that serializes migrations between processes.
MIGRATION_LOCK = WRITE_LOCK + 1


def _asyncpg() -> Any:
    try:
        import asyncpg
    except ImportError:
        raise ConfigError(
            "[database] url names a PostgreSQL database, but asyncpg is not installed: "
            "run pip install 'outreach[postgres]'."
        ) from None
    return asyncpg


def check_url(url: str) -> str | None:
    """What is wrong with ``url`` as a PostgreSQL address, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        return f"[database] url must start with postgresql:// (it is '{parts.scheme or url}')."
    if parts.password:
        return (
            "[database] url holds a password in clear: remove it from the url and set "
            '[database] password = "env:NAME" (or keyring:...) instead.'
        )
    if not parts.path.strip("/"):
        return "[database] url names no database: end it with /<database name>."
    return None


def dsn(url: str, password: str | None) -> str:
    """``url`` with ``password`` put in (it is kept out of the config file)."""
    problem = check_url(url)
    if problem:
        raise ConfigError(problem)
    if not password:
        return url
    parts = urlsplit(url)
    user = parts.username or ""
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname or ''}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def redacted(url: str) -> str:
    """``url`` without any password, for messages and logs."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = (parts.username or "") + "@" + (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def make_postgres_engine(url: str, password: str | None = None, pool_size: int = 10) -> Any:
    """An engine on the PostgreSQL database at ``url`` (its pool starts in :func:`start`)."""
    _asyncpg()
    from piccolo.engine.postgres import PostgresEngine, PostgresTransaction

    class WriteTransaction(PostgresTransaction):
        """A transaction that holds the write lock from its first statement to its end."""

        async def begin(self) -> None:
            try:
                await super().begin()
                await self.connection.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)
            except BaseException:
                # __aexit__ does not run when __aenter__ fails. A BEGIN or a lock wait
                # cancelled here (a task stopped while it queued for the lock) would keep
                # the connection out of the pool in an open transaction: holding the lock
                # if it was granted as the wait ended, and making the pool's close wait for
                # ever. Releasing rolls the transaction back (asyncpg resets the connection).
                await asyncio.shield(self._give_back())
                raise

        async def _give_back(self) -> None:
            if self.engine.pool is not None:
                await self.engine.pool.release(self.connection)
            else:
                await self.connection.close()

    class PooledPostgresEngine(PostgresEngine):
        """Piccolo's PostgreSQL engine with the store's interface (``close_pool``, write transactions)."""

        pool_size: int = 10

        def transaction(  # type: ignore[override]
            self, transaction_type: TransactionType = TransactionType.deferred, allow_nested: bool = True
        ) -> PostgresTransaction:
            """A write transaction (``immediate``, as on SQLite) holds the write lock; others do not."""
            kind = WriteTransaction if transaction_type != TransactionType.deferred else PostgresTransaction
            return kind(engine=self, allow_nested=allow_nested)

        async def close_pool(self) -> None:
            """Close the connection pool (at shutdown)."""
            if self.pool is not None:
                await self.close_connection_pool()

    engine = PooledPostgresEngine(config={"dsn": dsn(url, password)}, log_queries=False)
    engine.pool_size = pool_size
    return engine


async def start(engine: Any) -> None:
    """Open the engine's connection pool, saying clearly when the server cannot be reached."""
    asyncpg = _asyncpg()
    try:
        await engine.start_connection_pool(min_size=1, max_size=engine.pool_size)
    except (OSError, asyncpg.PostgresError) as exc:
        url = redacted(engine.config["dsn"])
        raise ConfigError(
            f"Cannot open the PostgreSQL database {url}: {exc}. Check [database] url and password, "
            "and that the server is running and reachable."
        ) from None


@contextlib.asynccontextmanager
async def migration_lock(engine: Any) -> AsyncIterator[None]:
    """Hold the migration lock on a connection of its own while the caller migrates."""
    connection = await engine.pool.acquire()
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        try:
            yield
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    finally:
        await engine.pool.release(connection)


async def applied_ids(engine: Any, app_name: str) -> set[str]:
    """The ids of the migrations recorded as applied, on PostgreSQL."""
    rows = await engine.run_ddl("SELECT to_regclass('migration') IS NOT NULL AS present")
    if not rows or not rows[0]["present"]:
        return set()
    rows = await engine.run_ddl(f"SELECT name FROM migration WHERE app_name = '{app_name}'")
    return {row["name"] for row in rows}


async def vacuum(engine: Any, tables: tuple[str, ...]) -> None:
    """Rewrite ``tables`` so that deleted rows' old versions are gone from their files.

    A deleted row stays in its table's file as a dead tuple until a vacuum; ``VACUUM
    FULL`` writes a new file without them and drops the old one.
    """
    for table in tables:
        await engine.run_ddl(f'VACUUM FULL "{table}"')
