"""The pooled SQLite engine against Piccolo's query and transaction API.

``kernel/store/pool.py`` overrides methods of Piccolo's SQLite engine and transaction
that are not public API; these tests pin down what outreach relies on, so a Piccolo
release that changes them fails here (the ``piccolo-latest`` tox env runs this file
against the newest release).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator

import aiosqlite
import pytest
from piccolo.columns import ForeignKey, Integer, Varchar
from piccolo.engine.sqlite import TransactionType
from piccolo.table import Table

from outreach.kernel.store.engine import make_engine
from outreach.kernel.store.pool import IDLE_CONNECTIONS, PooledSQLiteEngine

_UNBOUND = PooledSQLiteEngine(path=":memory:")  # replaced per test by the fixture


class Parent(Table, tablename="pool_parents", db=_UNBOUND):
    name = Varchar(length=64, unique=True)
    score = Integer(default=0)


class Child(Table, tablename="pool_children", db=_UNBOUND):
    parent = ForeignKey(Parent)
    name = Varchar(length=64)


class Opened:
    """Counts every aiosqlite connection made, whoever makes it (the pool or Piccolo)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = aiosqlite.Connection.__init__

        def counting(connection, *args, **kwargs):  # type: ignore[no-untyped-def]
            self.count += 1
            original(connection, *args, **kwargs)

        monkeypatch.setattr(aiosqlite.Connection, "__init__", counting)


@pytest.fixture
async def engine(tmp_path) -> AsyncIterator[PooledSQLiteEngine]:
    engine = make_engine(tmp_path / "pool.db", busy_timeout=10)
    await engine.run_ddl("PRAGMA journal_mode=WAL")
    for table in (Parent, Child):
        table._meta.db = engine
        await table.create_table()
    yield engine
    await engine.close_pool()


@pytest.fixture
def opened(engine, monkeypatch) -> Opened:
    return Opened(monkeypatch)


def _names(engine: PooledSQLiteEngine) -> list[str]:
    """Parent names as a separate, plain SQLite connection sees them (what is committed)."""
    with sqlite3.connect(engine.path) as conn:
        return [row[0] for row in conn.execute("SELECT name FROM pool_parents ORDER BY name")]


async def test_queries_outside_a_transaction_share_one_pooled_connection(engine, opened) -> None:
    (row,) = await Parent.insert(Parent(name="a")).returning(Parent.id, Parent.name)
    assert row["name"] == "a"
    await Parent.insert(Parent(name="b"), Parent(name="c"))
    await Parent.update({Parent.score: Parent.score + 2}).where(Parent.name == "b")
    assert await Parent.count() == 3
    assert await Parent.exists().where(Parent.name == "c")
    assert (await Parent.select(Parent.score).where(Parent.name == "b").first())["score"] == 2
    obj = await Parent.objects().get(Parent.name == "a")
    obj.score = 5
    await obj.save()
    await Parent.delete().where(Parent.name == "c")
    assert await Parent.raw("SELECT name, score FROM pool_parents ORDER BY name") == [
        {"name": "a", "score": 5},
        {"name": "b", "score": 2},
    ]
    assert _names(engine) == ["a", "b"]  # each statement was committed
    assert opened.count == 0  # all on the connection the fixture left in the pool


async def test_a_transaction_uses_one_connection_commits_and_gives_it_back(engine, opened) -> None:
    async with engine.transaction(transaction_type=TransactionType.immediate) as transaction:
        await Parent.insert(Parent(name="a"))
        await Parent.insert(Parent(name="b"))
        assert await Parent.count() == 2  # the transaction's own writes
        assert _names(engine) == []  # not committed yet
        assert transaction.connection.in_transaction
    assert _names(engine) == ["a", "b"]
    assert await Parent.count() == 2
    assert opened.count == 0
    assert not any(connection.in_transaction for connection in engine._idle)


async def test_an_exception_rolls_back_and_the_connection_comes_back_clean(engine, opened) -> None:
    async def fail() -> None:
        async with engine.transaction():
            await Parent.insert(Parent(name="lost"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await fail()
    assert _names(engine) == []
    assert await Parent.count() == 0
    assert opened.count == 0
    assert len(engine._idle) == 1
    assert not engine._idle[0].in_transaction


async def test_a_nested_transaction_joins_the_outer_one(engine) -> None:
    async def fail() -> None:
        async with engine.transaction() as outer:
            await Parent.insert(Parent(name="outer"))
            async with engine.transaction() as inner:
                assert inner is outer
                await Parent.insert(Parent(name="inner"))
            assert _names(engine) == []  # leaving the inner block committed nothing
            raise RuntimeError("undo both")

    with pytest.raises(RuntimeError):
        await fail()
    assert _names(engine) == []


async def test_explicit_commit_and_rollback_inside_the_block(engine) -> None:
    async with engine.transaction() as transaction:
        await Parent.insert(Parent(name="kept"))
        await transaction.commit()
    async with engine.transaction() as transaction:
        await Parent.insert(Parent(name="dropped"))
        await transaction.rollback()
    assert _names(engine) == ["kept"]
    assert not any(connection.in_transaction for connection in engine._idle)


async def test_a_savepoint_undoes_part_of_a_transaction(engine) -> None:
    async with engine.transaction() as transaction:
        await Parent.insert(Parent(name="before"))
        savepoint = await transaction.savepoint()
        await Parent.insert(Parent(name="undone"))
        await savepoint.rollback_to()
        await savepoint.release()
        await Parent.insert(Parent(name="after"))
    assert _names(engine) == ["after", "before"]


async def test_foreign_keys_and_secure_delete_hold_on_every_connection(engine) -> None:
    assert await Parent.raw("PRAGMA foreign_keys") == [{"foreign_keys": 1}]
    assert await Parent.raw("PRAGMA secure_delete") == [{"secure_delete": 1}]
    with pytest.raises(sqlite3.IntegrityError):
        await Child.insert(Child(parent=999, name="orphan"))

    async def orphan_in_a_transaction() -> None:
        async with engine.transaction():
            assert await Parent.raw("PRAGMA foreign_keys") == [{"foreign_keys": 1}]
            await Child.insert(Child(parent=999, name="orphan"))

    with pytest.raises(sqlite3.IntegrityError):
        await orphan_in_a_transaction()
    (parent,) = await Parent.insert(Parent(name="p")).returning(Parent.id)
    await Child.insert(Child(parent=parent["id"], name="c"))
    rows = await Child.select(Child.name, Child.parent.name).output(nested=True)
    assert rows == [{"name": "c", "parent": {"name": "p"}}]
    assert await Parent.count() == 1  # the failures left nothing behind, and the pool works


async def test_concurrent_immediate_transactions_wait_for_each_other(engine) -> None:
    await Parent.insert(Parent(name="counter"))

    async def bump() -> None:
        async with engine.transaction(transaction_type=TransactionType.immediate):
            row = await Parent.select(Parent.score).where(Parent.name == "counter").first()
            await asyncio.sleep(0.01)  # the others start meanwhile and must wait
            await Parent.update({Parent.score: row["score"] + 1}).where(Parent.name == "counter")

    # Every task runs to its end (a failure must not leave the others running past the test).
    outcomes = await asyncio.wait_for(asyncio.gather(*(bump() for _ in range(8)), return_exceptions=True), 60)
    assert [o for o in outcomes if o is not None] == []
    assert (await Parent.select(Parent.score).first())["score"] == 8
    assert len(engine._idle) <= IDLE_CONNECTIONS


async def test_idle_connections_are_capped_and_closed_at_shutdown(engine, opened) -> None:
    held = IDLE_CONNECTIONS + 3
    inside = asyncio.Barrier(held + 1)
    leave = asyncio.Event()

    async def hold() -> None:
        async with engine.transaction():
            await Parent.count()
            await inside.wait()
            await leave.wait()

    tasks = [asyncio.create_task(hold()) for _ in range(held)]
    try:
        await asyncio.wait_for(inside.wait(), 30)  # every transaction holds its own connection now
    finally:
        leave.set()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert [o for o in outcomes if o is not None] == []
    assert opened.count == held - 1  # one came from the pool
    assert len(engine._idle) == IDLE_CONNECTIONS
    idle = list(engine._idle)
    await engine.close_pool()
    assert engine._idle == []
    for connection in idle:
        with pytest.raises(ValueError, match="no active connection"):
            await connection.execute("SELECT 1")
    assert await Parent.count() == 0  # a closed pool opens a new connection when asked


async def test_a_failed_statement_outside_a_transaction_leaves_the_pool_usable(engine) -> None:
    await Parent.insert(Parent(name="a"))
    with pytest.raises(sqlite3.IntegrityError):
        await Parent.insert(Parent(name="a"))  # unique
    with pytest.raises(sqlite3.OperationalError):
        await Parent.raw("SELECT nothing FROM nowhere")
    assert await Parent.count() == 1
    assert not any(connection.in_transaction for connection in engine._idle)


async def test_batches_read_through_a_pooled_connection(engine) -> None:
    await Parent.insert(*(Parent(name=f"p{number}") for number in range(5)))
    seen: list[str] = []
    async with await Parent.select(Parent.name).order_by(Parent.name).batch(batch_size=2) as batch:
        async for rows in batch:
            assert len(rows) <= 2
            seen.extend(row["name"] for row in rows)
    assert seen == [f"p{number}" for number in range(5)]
    assert await Parent.count() == 5


async def test_ddl_runs_in_and_outside_a_transaction(engine) -> None:
    await engine.run_ddl("CREATE TABLE pool_extra (x INTEGER)")
    async with engine.transaction():
        await engine.run_ddl("INSERT INTO pool_extra VALUES (1)")
        await engine.run_ddl("ALTER TABLE pool_extra ADD COLUMN y TEXT")
    assert await Parent.raw("SELECT x, y FROM pool_extra") == [{"x": 1, "y": None}]
