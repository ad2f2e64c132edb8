"""``outreach db copy``: the SQLite store copied into an empty PostgreSQL database, ids kept,
every row the same, checked table by table, all or nothing; then the app runs on the copy."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import Clock, enrolled, mailbox
from inbound_helpers import reply
from litestar.testing import AsyncTestClient

from outreach.kernel import DiscoveredBusiness, InboundMessage
from outreach.kernel.errors import ConfigError
from outreach.kernel.runtime import Runtime
from outreach.kernel.services import audit, job_units, lead_tags, plugin_state
from outreach.kernel.store.copy import CopyError, converter, copy_order, copy_store
from outreach.kernel.store.engine import open_postgres
from outreach.kernel.store.tables import ALL_TABLES, JobRow, LeadRow, LeadTagRow
from outreach.web import create_app

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"

#: The engine helpers' two-step sequence, on a saved template, with two variants of its first step.
SEQUENCE = """
name = "intro"

[[steps]]
template = "hello"

[[steps.variants]]
name = "question"
subject = "A question for {{ business_name }}"
body = "Hi {{ first_name | default('there') }}, a question about {{ business_name }}."

[[steps.variants]]
name = "short"
template = "hello"

[[steps]]
body = "Just following up on my note about {{ business_name }}."
delay_days = 2
"""

TABLES = [table._meta.tablename for table in ALL_TABLES]


def sqlite_counts(path: Path) -> dict[str, int]:
    """Every table's rows, read from the file with the standard library."""
    with sqlite3.connect(path) as connection:
        return {name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in TABLES}


async def pg_counts(rt: Runtime) -> dict[str, int]:
    counts = {}
    for name in TABLES:
        rows = await rt.engine.run_ddl(f'SELECT count(*) AS n FROM "{name}"')
        counts[name] = rows[0]["n"]
    return counts


async def every_row() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table through the store as it is bound now, in id order."""
    return {table._meta.tablename: await table.select().order_by(table.id) for table in ALL_TABLES}


async def fill(rt: Runtime) -> dict[str, Any]:
    """Rows in every table of ``rt``'s store; what the checks after the copy compare with."""
    rt.clock = Clock()
    await rt.templates.save("hello", "Hello {{ business_name }}", "Hi, {{ first_line }}", actor="test")
    firsts = await enrolled(rt, 3, sequence=SEQUENCE, phone=lambda i: f"+1 512 555 010{i}")
    await rt.outbox.run_until_idle()
    lead_id = min(firsts)
    first = await rt.emails.get(firsts[lead_id])
    await lead_tags.change_tags([lead_id], add=["dentist", "vip"], actor="test")
    await rt.inbound.process(InboundMessage(raw=reply(first, "Yes, call me on Monday."), source="imap:main"))
    await rt.tracking.record("open", first.id, user_agent=BROWSER)
    await rt.suppressions.add("gone@elsewhere.example", reason="unsubscribed", actor="test")
    job = await rt.jobs.submit("discovery", {"query": "dentists in Springfield"}, actor="test")
    await job_units.plan(job.id, [{"latitude": 39.8, "longitude": -89.6, "zoom": 13}])
    await plugin_state.save("imap", "INBOX:uid", {"last": 41})
    return {"lead_id": lead_id, "email": first.to_address, "trail": await audit.trail("lead", lead_id)}


@pytest.fixture
def sqlite_settings(make_settings):
    return make_settings(mailboxes=[mailbox()], sending={"rate_limit_per_minute": 0})


@pytest.fixture
def pg_settings(make_settings, postgres_url):
    return make_settings(
        mailboxes=[mailbox()], sending={"rate_limit_per_minute": 0}, database={"url": postgres_url}
    )


@pytest.fixture
async def filled(sqlite_settings) -> dict[str, Any]:
    """A SQLite store with data in every table (closed again), and what was put in."""
    rt = await Runtime.open(sqlite_settings)
    try:
        facts = await fill(rt)
        facts["rows"] = await every_row()
        facts["max_lead"] = max(row["id"] for row in facts["rows"]["leads"])
    finally:
        await rt.close()
    facts["counts"] = sqlite_counts(sqlite_settings.database_path)
    empty = [name for name, count in facts["counts"].items() if not count]
    assert not empty, f"the test puts no row in {empty}"
    return facts


def test_tables_are_copied_after_the_tables_they_refer_to() -> None:
    order = copy_order()
    assert sorted(order, key=id) == sorted(ALL_TABLES, key=id)
    for position, table in enumerate(order):
        for key in table._meta.foreign_key_columns:
            assert key._foreign_key_meta.resolved_references in order[:position], (table, key)


def test_raw_sqlite_values_become_what_postgresql_columns_take() -> None:
    columns = {column._meta.name: column for column in JobRow._meta.columns}
    convert = {name: converter(column) for name, column in columns.items()}
    assert convert["started_at"]("2026-11-23 15:00:00.5") == datetime(
        2026, 11, 23, 15, 0, 0, 500000, tzinfo=UTC
    )
    assert convert["started_at"]("2026-11-23T16:00:00+01:00") == datetime(2026, 11, 23, 15, tzinfo=UTC)
    assert convert["heartbeat_at"](None) is None
    assert convert["cancel_requested"](1) is True
    assert convert["cancel_requested"](0) is False
    assert convert["params"]('{"query": "x"}') == '{"query": "x"}'
    assert convert["progress_done"]("7") == 7
    assert convert["kind"]("discovery") == "discovery"
    assert converter(LeadRow._meta.get_column_by_name("latitude"))(51) == 51.0
    assert converter(LeadTagRow._meta.get_column_by_name("lead"))(3) == 3


async def test_the_copy_has_every_row_and_the_app_runs_on_it(
    filled, sqlite_settings, pg_settings, postgres_url, make_runtime
) -> None:
    # Small chunks: every table of more than three rows is read and written in several.
    report = await copy_store(sqlite_settings, postgres_url, chunk_rows=3)
    assert {count.table: (count.source, count.target) for count in report.tables} == {
        name: (count, count) for name, count in filled["counts"].items()
    }
    assert report.rows == sum(filled["counts"].values())

    # The store alone first: a full runtime brings the mailboxes' rows up to date with the config.
    store = await make_runtime(pg_settings, plugins=False)
    assert store.engine.engine_type == "postgres"
    assert await pg_counts(store) == filled["counts"]
    # Every column of every row, ids and timestamps included, reads back the same.
    assert await every_row() == filled["rows"]

    rt = await make_runtime(pg_settings)
    lead = await rt.leads.get(filled["lead_id"])
    assert lead.email == filled["email"]
    assert lead.phone == "+1 512 555 0100"
    assert await audit.trail("lead", filled["lead_id"]) == filled["trail"]

    new, created = await rt.leads.upsert_discovered(
        DiscoveredBusiness(business_name="After The Move", email="new@after.example"), "test"
    )
    assert created
    assert new.id > filled["max_lead"]
    async with AsyncTestClient(app=create_app(rt)) as client:
        page = await client.get("/leads")
    assert page.status_code == 200
    assert "After The Move" in page.text
    assert "Business 0" in page.text


async def test_a_second_copy_into_a_database_with_rows_is_refused_and_changes_nothing(
    filled, sqlite_settings, pg_settings, postgres_url, make_runtime
) -> None:
    await copy_store(sqlite_settings, postgres_url)
    await make_runtime(pg_settings, plugins=False)
    before = await every_row()
    with pytest.raises(CopyError, match="table leads already has rows, so nothing was copied"):
        await copy_store(sqlite_settings, postgres_url)
    await make_runtime(pg_settings, plugins=False)
    assert await every_row() == before


async def test_one_row_in_any_table_refuses_the_copy(
    sqlite_settings, postgres_url, postgres_server, make_runtime
) -> None:
    rt = await make_runtime(sqlite_settings)
    await rt.leads.upsert_discovered(DiscoveredBusiness(business_name="Acme"), "test")
    engine = await open_postgres(postgres_url)
    await engine.close_pool()
    database = postgres_url.rsplit("/", 1)[1]
    postgres_server.sql("INSERT INTO plugin_state (state_key, value) VALUES ('x:y', '{}')", database)
    with pytest.raises(CopyError, match="table plugin_state already has rows"):
        await copy_store(sqlite_settings, postgres_url)
    assert postgres_server.sql("SELECT count(*) FROM leads", database) == "0"


async def test_a_table_whose_counts_differ_rolls_the_whole_copy_back(
    filled, sqlite_settings, postgres_url, postgres_server
) -> None:
    engine = await open_postgres(postgres_url)
    await engine.close_pool()
    database = postgres_url.rsplit("/", 1)[1]
    # A trigger that drops every tracking event on its way in: the copy of that table comes up short.
    postgres_server.sql(
        "CREATE FUNCTION drop_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$; "
        "CREATE TRIGGER drop_events BEFORE INSERT ON tracking_events FOR EACH ROW EXECUTE FUNCTION drop_row()",
        database,
    )
    with pytest.raises(CopyError, match="table tracking_events has 0 rows where the SQLite database has 1"):
        await copy_store(sqlite_settings, postgres_url)
    for name in TABLES:
        assert postgres_server.sql(f'SELECT count(*) FROM "{name}"', database) == "0", name
    assert postgres_server.sql("SELECT last_value FROM leads_id_seq", database) == "1"


async def test_a_store_already_on_postgresql_is_not_a_source(pg_settings, postgres_url) -> None:
    with pytest.raises(ConfigError, match=r"already on PostgreSQL \(\[database\] url = postgresql://"):
        await copy_store(pg_settings, postgres_url)


async def test_a_target_url_with_a_password_is_refused(sqlite_settings, make_runtime) -> None:
    await make_runtime(sqlite_settings)
    with pytest.raises(ConfigError, match="holds a password in clear"):
        await copy_store(sqlite_settings, "postgresql://outreach:hunter2@127.0.0.1:5432/outreach")


# -- the command -----------------------------------------------------------------------------------


def outreach(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "outreach.web.cli", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}: {result.stderr}")
    return result


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    data = tmp_path / "cli-data"
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text(
        "name,category,website,email\n"
        "Acme Dental,Dentist,https://acme.example,info@acme.example\n"
        "Bolt Bikes,Bike shop,https://bolt.example,hi@bolt.example\n"
    )
    assert "2 new" in outreach(data, "leads", "import", str(csv_file)).stdout
    return data


def test_the_command_prints_every_table_and_how_to_switch(imported: Path, postgres_url: str) -> None:
    counts = sqlite_counts(imported / "outreach.db")
    result = outreach(imported, "db", "copy", "--to", postgres_url)
    lines = result.stdout.splitlines()
    for name in TABLES:
        (line,) = [line for line in lines if line.split()[0] == name]
        assert line.split()[1:] == [str(counts[name]), "->", str(counts[name])]
    assert f"Copied {sum(counts.values())} rows to {postgres_url}" in result.stdout
    assert f'set [database] url = "{postgres_url}" in ' in lines[-1]

    assert sqlite_counts(imported / "outreach.db") == counts  # the SQLite store is left as it was
    again = outreach(imported, "db", "copy", "--to", postgres_url, check=False)
    assert again.returncode == 1
    assert "table leads already has rows, so nothing was copied" in again.stderr
    assert "Traceback" not in again.stderr


def test_the_command_prints_json(imported: Path, postgres_url: str, monkeypatch) -> None:
    monkeypatch.setenv("OUTREACH_TEST_PG_PASSWORD", "not-needed-with-trust")
    result = outreach(
        imported, "db", "copy", "--to", postgres_url, "--password", "env:OUTREACH_TEST_PG_PASSWORD", "--json"
    )
    report = json.loads(result.stdout)
    counts = {count["table"]: count["target"] for count in report["tables"]}
    assert counts == sqlite_counts(imported / "outreach.db")
    assert report["target"] == postgres_url
    assert report["config"] == {"url": postgres_url, "password": "env:OUTREACH_TEST_PG_PASSWORD"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to", "postgresql://outreach:hunter2@127.0.0.1/x"], "--to holds a password in clear"),
        (["--password", "hunter2"], "--password: a secret must be a reference"),
        (["--password", "env:OUTREACH_TEST_UNSET_VARIABLE"], "OUTREACH_TEST_UNSET_VARIABLE is not set"),
        (["--to", "mysql://127.0.0.1/x"], "must start with postgresql://"),
    ],
)
def test_the_command_refuses_with_a_sentence(imported: Path, postgres_url: str, args, message) -> None:
    full = ["--to", postgres_url, *args] if args[0] != "--to" else args
    result = outreach(imported, "db", "copy", *full, check=False)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr
