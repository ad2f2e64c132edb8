"""The store: SQLite in WAL mode in the data dir, migrated at start-up, personal data encrypted."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime

import pytest

from outreach.kernel import DiscoveredBusiness
from outreach.kernel.crypto import Vault, key_file, load_vault
from outreach.kernel.errors import ConfigError, OutreachError
from outreach.kernel.runtime import Runtime
from outreach.kernel.store.bulk import insert_rows
from outreach.kernel.store.engine import migrate, write_transaction
from outreach.kernel.store.filters import in_values
from outreach.kernel.store.tables import EmailRow, LeadRow

# The store's behaviour, on SQLite and on PostgreSQL alike.
pytestmark = pytest.mark.both_engines


@pytest.mark.sqlite_only
async def test_database_is_created_migrated_and_in_wal_mode(runtime, data_dir) -> None:
    db = data_dir / "outreach.db"
    assert db.exists()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {
        "leads",
        "emails",
        "sequences",
        "sequence_steps",
        "templates",
        "mailboxes",
        "suppressions",
        "jobs",
        "audit_log",
        "plugin_state",
    } <= tables
    assert await migrate() == []  # nothing left to apply


async def test_reopening_keeps_data(settings, make_runtime) -> None:
    rt = await make_runtime(settings)
    lead, _ = await rt.leads.upsert_discovered(DiscoveredBusiness(business_name="Kept"), "test")
    again = await make_runtime(settings)
    assert (await again.leads.get(lead.id)).business_name == "Kept"


async def test_personal_data_is_not_in_the_database_file_in_clear(runtime, data_dir) -> None:
    address = "dr.jane.doe@smile-dental.example"
    phone = "+1 512 555 0199"
    lead, _ = await runtime.leads.upsert_discovered(
        DiscoveredBusiness(business_name="Smile Dental", email=address, phone=phone, contact_name="Jane Doe"),
        "test",
    )
    assert (await runtime.leads.get(lead.id)).email == address
    assert [found.id for found in await runtime.leads.find_by_email("DR.Jane.Doe@smile-dental.example ")] == [
        lead.id
    ]
    with sqlite3.connect(data_dir / "outreach.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(FULL)")
    raw = b"".join(p.read_bytes() for p in data_dir.glob("outreach.db*"))
    for secret in (address, phone, "Jane Doe", "smile-dental.example"):
        assert secret.encode() not in raw


def test_key_file_is_created_private_and_reused(data_dir, monkeypatch) -> None:
    monkeypatch.delenv("OUTREACH_DATA_KEY", raising=False)
    first = load_vault(data_dir)
    path = key_file(data_dir)
    assert path.stat().st_mode & 0o777 == 0o600
    assert first.source == str(path)
    second = load_vault(data_dir)
    assert second.decrypt(first.encrypt("x@y.example")) == "x@y.example"


def test_key_from_environment_wins(data_dir, monkeypatch) -> None:
    vault = Vault.generate()
    monkeypatch.setenv("OUTREACH_DATA_KEY", vault.to_json())
    loaded = load_vault(data_dir)
    assert "OUTREACH_DATA_KEY" in loaded.source
    assert loaded.hash_email("a@b.example") == vault.hash_email("a@b.example")
    assert not key_file(data_dir).exists()


def test_rotated_vault_reads_old_tokens_and_keeps_hashes() -> None:
    vault = Vault.generate()
    token = vault.encrypt("a@b.example")
    rotated = vault.rotated()
    assert rotated.decrypt(token) == "a@b.example"
    assert rotated.reencrypt(token) != token
    assert rotated.hash_email("a@b.example") == vault.hash_email("a@b.example")


@pytest.mark.sqlite_only
async def test_runtime_uses_the_data_dir_override(tmp_path, make_settings, make_runtime) -> None:
    settings = make_settings(data_dir=str(tmp_path / "custom"))
    rt: Runtime = await make_runtime(settings)
    assert rt.settings.database_path == tmp_path / "custom" / "outreach.db"
    assert (tmp_path / "custom" / "outreach.db").exists()


async def test_keys_rotate_reencrypts_and_keeps_everything_readable(settings, make_runtime, data_dir) -> None:
    from outreach.kernel.services.keys import rotate_keys

    rt = await make_runtime(settings)
    lead, _ = await rt.leads.upsert_discovered(
        DiscoveredBusiness(business_name="Rotated", email="owner@rotated.example", phone="+1 555 0100"),
        "test",
    )
    before = {row["email"] for row in await LeadRow.select(LeadRow.email)}
    old_key = key_file(data_dir).read_text()
    report = await rotate_keys(rt, actor="test")
    assert report.rows["leads"] == 1
    after = {row["email"] for row in await LeadRow.select(LeadRow.email)}
    assert before.isdisjoint(after)
    assert key_file(data_dir).read_text() != old_key
    reopened = await make_runtime(settings)
    again = await reopened.leads.get(lead.id)
    assert (again.email, again.phone) == ("owner@rotated.example", "+1 555 0100")
    assert [found.id for found in await reopened.leads.find_by_email("owner@rotated.example")] == [lead.id]
    old_vault = Vault.from_json(old_key, source="old")
    with pytest.raises(ConfigError):
        old_vault.decrypt(next(iter(after)))


async def test_keys_rotate_refuses_an_environment_key_unless_asked(
    data_dir, make_settings, make_runtime, monkeypatch
) -> None:
    from outreach.kernel.services.keys import rotate_keys

    monkeypatch.setenv("OUTREACH_DATA_KEY", Vault.generate().to_json())
    rt = await make_runtime(make_settings())
    with pytest.raises(OutreachError, match="OUTREACH_DATA_KEY"):
        await rotate_keys(rt, actor="test")
    report = await rotate_keys(rt, actor="test", allow_env=True)
    assert Vault.from_json(report.new_key_material, source="printed").hash_email(
        "a@b.example"
    ) == rt.vault.hash_email("a@b.example")


async def test_bulk_inserted_rows_read_back_as_piccolo_inserted_ones(runtime) -> None:
    lead, _ = await runtime.leads.upsert_discovered(DiscoveredBusiness(business_name="Bulk"), "test")
    values = {
        "lead": lead.id,
        "subject": "Hello",
        "body_text": "Hi",
        "due_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "references": ["<a@b.example>"],
        "needs_attention": True,
    }
    await EmailRow.insert(EmailRow(**values, dedupe_key="orm"))
    async with write_transaction():
        await insert_rows(EmailRow, [{**values, "dedupe_key": "bulk"}])
    await insert_rows(EmailRow, [{**values, "dedupe_key": "outside"}])  # no transaction: through Piccolo
    orm, bulk, outside = await EmailRow.select().order_by(EmailRow.id)
    for row in (bulk, outside):
        differing = {key for key in orm if orm[key] != row[key]}
        assert differing <= {"id", "dedupe_key", "created_at", "updated_at"}
        assert row["created_at"].tzinfo is not None  # the column's own default
    assert (bulk["state"], bulk["version"], bulk["attempts"]) == ("queued", 1, 0)
    with pytest.raises(ValueError, match="no column 'subjekt'"):
        async with write_transaction():
            await insert_rows(EmailRow, [{"lead": lead.id, "dedupe_key": "typo", "subjekt": "x"}])


async def test_in_values_matches_exactly_the_listed_ids_and_keys(runtime) -> None:
    leads = [
        (await runtime.leads.upsert_discovered(DiscoveredBusiness(business_name=f"L{i}"), "test"))[0]
        for i in range(3)
    ]
    wanted = [leads[0].id, leads[2].id, 10_000]
    rows = await LeadRow.select(LeadRow.id).where(in_values(LeadRow.id, wanted)).order_by(LeadRow.id)
    assert [r["id"] for r in rows] == [leads[0].id, leads[2].id]
    rows = await LeadRow.select(LeadRow.id).where(in_values(LeadRow.business_name, ["L1", "no such name"]))
    assert [r["id"] for r in rows] == [leads[1].id]
    assert await LeadRow.select(LeadRow.id).where(in_values(LeadRow.id, [])) == []
    # The values are bound, never spliced into the SQL.
    assert await LeadRow.select(LeadRow.id).where(in_values(LeadRow.business_name, ["') OR 1=1 --"])) == []


async def test_write_transactions_run_one_at_a_time_and_reads_do_not_wait(runtime) -> None:
    # What the services check inside a write transaction still holds when it commits, on
    # PostgreSQL as on SQLite (whose writer lock PostgreSQL's advisory lock stands in for).
    entered, release = asyncio.Event(), asyncio.Event()
    order: list[str] = []

    async def first() -> None:
        async with write_transaction():
            await LeadRow.count()
            order.append("first in")
            entered.set()
            await release.wait()
            order.append("first out")

    async def second() -> None:
        await entered.wait()
        async with write_transaction():
            order.append("second in")
            await LeadRow.count()

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    try:
        await entered.wait()
        await asyncio.sleep(0.3)
        waited = list(order)
        assert await LeadRow.count() == 0  # a read outside goes on meanwhile
    finally:
        release.set()
        await asyncio.gather(*tasks)
    assert waited == ["first in"]  # the second writer waited...
    assert order == ["first in", "first out", "second in"]  # ...until the first had ended


@pytest.mark.postgres_only
async def test_a_writer_cancelled_while_it_waits_leaves_nothing_open(runtime) -> None:
    # A task cancelled while it waits for the write lock (a worker stopping, a flush task
    # ended) must give its connection back: left in an open transaction, it could hold the
    # lock for good, and every writer of every process would wait behind it.
    engine = LeadRow._meta.db
    entered, release = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with write_transaction():
            await LeadRow.count()
            entered.set()
            await release.wait()

    async def waiter() -> None:
        async with write_transaction():
            await LeadRow.count()

    holding = asyncio.create_task(holder())
    await entered.wait()
    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0.3)  # the waiter is inside its BEGIN, waiting for the lock
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()
    await holding
    open_transactions = await LeadRow.raw(
        "SELECT count(*) AS n FROM pg_stat_activity "
        "WHERE datname = current_database() AND state LIKE 'idle in transaction%'"
    )
    leaked = engine.pool.get_size() - engine.pool.get_idle_size()
    if leaked:
        engine.pool.terminate()  # else closing the store would wait for the lost connection for ever
    assert leaked == 0
    assert open_transactions[0]["n"] == 0


async def test_update_rows_sets_each_rows_values_where_its_columns_match(runtime) -> None:
    from outreach.kernel.store.bulk import update_rows

    ids = []
    for name in ("One", "Two", "Three"):
        lead, _ = await runtime.leads.upsert_discovered(DiscoveredBusiness(business_name=name), "test")
        ids.append(lead.id)
    async with write_transaction():
        await update_rows(
            LeadRow,
            [
                (
                    {"category": "Dentist", "score": 0.85, "enrichment": {"a": 1}},
                    {"id": ids[0], "version": 1},
                ),
                ({"category": "Baker", "score": 0.5, "enrichment": {}}, {"id": ids[1], "version": 1}),
                ({"city": "Austin"}, {"id": ids[2], "version": 1}),
                ({"city": "Nowhere"}, {"id": ids[2], "version": 99}),  # a version that no longer holds
            ],
        )
    rows = {r["id"]: r for r in await LeadRow.select().where(LeadRow.id.is_in(ids))}
    assert (rows[ids[0]]["category"], rows[ids[0]]["score"]) == ("Dentist", 0.85)
    assert (rows[ids[1]]["category"], rows[ids[1]]["score"]) == ("Baker", 0.5)
    assert rows[ids[2]]["city"] == "Austin"
    assert rows[ids[1]]["category"] != rows[ids[0]]["category"]
