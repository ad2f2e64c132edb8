"""A SQLite engine that reuses its connections.

Piccolo's SQLite engine opens a new aiosqlite connection (a new thread and a new
SQLite handle) for every query outside a transaction and for every transaction, and
runs ``PRAGMA foreign_keys`` before every statement inside one. On a busy page or in
the send loop that costs more than the queries themselves. This engine keeps a few
idle connections, each set up once, and hands them out one holder at a time.
"""

from __future__ import annotations

import contextlib
from typing import Any

import aiosqlite
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType

#: Connections kept open while idle; more are opened when needed and closed on release.
IDLE_CONNECTIONS = 4


def _dict_factory(cursor: Any, row: tuple[Any, ...]) -> dict[str, Any]:
    return {column[0]: row[index] for index, column in enumerate(cursor.description)}


class PooledTransaction(SQLiteTransaction):
    """A Piccolo transaction on a borrowed connection, returned (not closed) at the end."""

    async def get_connection(self) -> aiosqlite.Connection:
        """Borrow a connection from the engine's pool."""
        return await self.engine.acquire()  # type: ignore[attr-defined]

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent:
            return exception is None
        healthy = True
        try:
            if exception:
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                await self.commit()
        except BaseException:
            healthy = False
            raise
        finally:
            self.engine.current_transaction.reset(self.context)
            await self.engine.release(self.connection, healthy=healthy)  # type: ignore[attr-defined]
        return exception is None


class PooledSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine with a small pool of reusable connections."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._idle: list[aiosqlite.Connection] = []

    async def _connect(self) -> aiosqlite.Connection:
        pending = aiosqlite.connect(**self.connection_kwargs)
        # A connection left open must not keep the process alive at exit.
        thread = getattr(pending, "_thread", None)
        if thread is not None:
            thread.daemon = True
        connection = await pending
        connection.row_factory = _dict_factory  # type: ignore[assignment]
        await connection.execute("PRAGMA foreign_keys = 1")
        # Deleted rows are overwritten, so an erasure leaves nothing readable in free pages.
        await connection.execute("PRAGMA secure_delete = ON")
        return connection

    async def acquire(self) -> aiosqlite.Connection:
        """An idle connection, or a new one."""
        try:
            # One atomic step: two holders (on two threads' loops, in tests) never get the same one.
            return self._idle.pop()
        except IndexError:
            return await self._connect()

    async def release(self, connection: aiosqlite.Connection, *, healthy: bool = True) -> None:
        """Give a connection back; a broken one, or one too many, is closed instead."""
        if healthy and connection.in_transaction:
            # Left mid-transaction by a failure: never hand that state to the next holder.
            with contextlib.suppress(Exception):
                await connection.rollback()
            healthy = not connection.in_transaction
        if healthy and len(self._idle) < IDLE_CONNECTIONS:
            self._idle.append(connection)
            return
        with contextlib.suppress(Exception):
            await connection.close()

    async def get_connection(self) -> aiosqlite.Connection:
        """A connection of the pool (Piccolo's batch API closes what it gets; that is fine)."""
        return await self.acquire()

    async def close_pool(self) -> None:
        """Close every idle connection (at shutdown)."""
        idle, self._idle = self._idle, []
        for connection in idle:
            with contextlib.suppress(Exception):
                await connection.close()

    def transaction(
        self, transaction_type: TransactionType = TransactionType.deferred, allow_nested: bool = True
    ) -> SQLiteTransaction:
        """A transaction on a pooled connection."""
        return PooledTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)

    async def _run_in_new_connection(
        self,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ) -> Any:
        """Run one statement outside a transaction on a pooled connection, committing it."""
        connection = await self.acquire()
        healthy = False
        try:
            async with connection.execute(query, args or []) as cursor:
                rows = await cursor.fetchall()
            await connection.commit()
            healthy = True
            return rows
        finally:
            await self.release(connection, healthy=healthy)

    async def _run_in_existing_connection(
        self,
        connection: Any,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ) -> Any:
        """Run one statement in the current transaction (the connection is already set up)."""
        async with connection.execute(query, args or []) as cursor:
            return await cursor.fetchall()
