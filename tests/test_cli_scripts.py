"""The command line as scripts use it: pipes closed early, errors, every row of a list, start-up.

Every check runs ``python -m outreach.web.cli`` in a real subprocess, as a script or a
shell pipeline would.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from outreach.kernel.config import parse_settings
from outreach.kernel.runtime import Runtime
from outreach.kernel.store.bulk import insert_rows
from outreach.kernel.store.engine import write_transaction
from outreach.kernel.store.mapping import email_columns, lead_columns
from outreach.kernel.store.tables import EmailRow, JobRow, LeadRow

#: More rows than any list command used to print with --json (leads and outbox 100, jobs 50).
LEADS = 250
JOBS = 60


def address(i: int) -> str:
    """The email address of lead ``i``: unique, so a leak of any one is found."""
    return f"owner{i}@private-lead{i}.example"


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


async def fill(data_dir: Path) -> None:
    """Store LEADS leads (one email sent to each) and JOBS finished jobs, with the bulk helper."""
    rt = await Runtime.open(parse_settings({"data_dir": str(data_dir)}), load_entry_points=False)
    try:
        async with write_transaction():
            leads = [
                lead_columns(
                    {
                        "identity_key": f"test:{i}",
                        "business_name": f"Business {i}",
                        "email": address(i),
                        "lifecycle_state": "discovered",
                        "discovery_source": "test",
                    },
                    rt.vault,
                )
                for i in range(LEADS)
            ]
            await insert_rows(LeadRow, leads)
            ids = [row["id"] for row in await LeadRow.select(LeadRow.id).order_by(LeadRow.id)]
            emails = [
                email_columns(
                    {
                        "lead": lead_id,
                        "dedupe_key": f"test:{lead_id}",
                        "to_address": address(i),
                        "subject": f"Hello {i}",
                        "body_text": f"Dear owner {i}",
                        "state": "sent",
                    },
                    rt.vault,
                )
                for i, lead_id in enumerate(ids)
            ]
            await insert_rows(EmailRow, emails)
            await insert_rows(JobRow, [{"kind": "discover", "state": "succeeded"} for _ in range(JOBS)])
    finally:
        await rt.close()


@pytest.fixture
async def filled(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    await fill(data)
    return data


def no_address_in(text: str) -> bool:
    return not any(address(i) in text for i in range(LEADS)) and "private-lead" not in text


# -- 1. closed pipes and unexpected errors ----------------------------------------------


def test_a_pipe_closed_after_the_first_line_ends_quietly(filled: Path) -> None:
    # --json: every lead, far more than a pipe holds, so the writer meets the closed pipe.
    process = subprocess.Popen(
        [sys.executable, "-m", "outreach.web.cli", "--data-dir", str(filled), "leads", "list", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    assert process.stdout.readline().strip() == b"["
    process.stdout.close()
    stderr = process.stderr.read().decode()
    returncode = process.wait(timeout=120)
    assert stderr == ""
    assert "Traceback" not in stderr
    assert no_address_in(stderr)
    # 141 = 128 + SIGPIPE, what a shell reports for `ls | head`.
    assert returncode == 141


def test_an_unexpected_error_is_one_sentence_naming_the_log(filled: Path) -> None:
    # A corrupt row: a timestamp SQLite holds but nobody can read, met while the lead
    # (its address decrypted) is a local variable of the code that reads the trail.
    with sqlite3.connect(filled / "outreach.db") as db:
        db.execute("UPDATE audit_log SET created_at = 'garbage'")
        db.execute(
            "INSERT INTO audit_log (entity, entity_id, action, actor, created_at) "
            "VALUES ('lead', 1, 'x', 'test', 'garbage')"
        )
    log = filled / "logs" / "outreach.log"
    result = outreach(filled, "leads", "show", "1", check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line == f"Error: outreach hit an unexpected error (ValueError); the details are in {log}."
    assert "Traceback" not in result.stderr
    assert no_address_in(result.stderr)
    events = [json.loads(entry) for entry in log.read_text().splitlines()]
    (crash,) = [e for e in events if e["event"] == "command_failed"]
    assert crash["error_type"] == "ValueError"
    assert "Traceback (most recent call last)" in crash["exception"]
    assert "locals" not in crash["exception"]
    assert no_address_in(log.read_text())


def test_a_declined_confirmation_is_not_an_unexpected_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "outreach.web.cli",
            "--data-dir",
            str(tmp_path),
            "gdpr",
            "erase",
            "a@b.example",
        ],
        input="n\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Aborted" in result.stderr
    assert "unexpected" not in result.stderr


# -- 2. --json holds every row -----------------------------------------------------------


def json_of(data: Path, *args: str) -> list[dict[str, Any]]:
    return json.loads(outreach(data, *args).stdout)


def test_json_lists_hold_every_row_unless_a_page_is_asked_for(filled: Path) -> None:
    leads = json_of(filled, "leads", "list", "--json")
    assert [lead["id"] for lead in leads] == list(range(1, LEADS + 1))
    assert {lead["email"] for lead in leads} == {address(i) for i in range(LEADS)}
    page = json_of(filled, "leads", "list", "--json", "--per-page", "10", "--page", "2")
    assert [lead["id"] for lead in page] == list(range(11, 21))
    assert len(json_of(filled, "leads", "list", "--json", "--page", "1")) == 100

    emails = json_of(filled, "outbox", "list", "--json")
    assert len(emails) == LEADS
    assert emails[0]["id"] > emails[-1]["id"]  # newest first
    assert {"stranded", "hold", "written_to_file", "to_address"} <= emails[0].keys()
    page = json_of(filled, "outbox", "list", "--json", "--per-page", "10", "--page", "2")
    assert [e["id"] for e in page] == [e["id"] for e in emails[10:20]]

    jobs = json_of(filled, "jobs", "list", "--json")
    assert len(jobs) == JOBS
    page = json_of(filled, "jobs", "list", "--json", "--per-page", "10", "--page", "2")
    assert [j["id"] for j in page] == [j["id"] for j in jobs[10:20]]


def test_small_lists_take_pages_too(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (mailbox,) = json_of(data, "mailboxes", "list", "--json")
    assert json_of(data, "mailboxes", "list", "--json", "--page", "2") == []
    assert json_of(data, "mailboxes", "list", "--json", "--per-page", "1") == [mailbox]
    assert json_of(data, "sequences", "list", "--json") == []
    assert json_of(data, "sequences", "list", "--json", "--page", "3") == []


def test_streamed_json_is_the_same_text_as_a_whole_list() -> None:
    import asyncio

    from click.testing import CliRunner

    from outreach.web.cli.common import echo_json, echo_json_rows, rows_of

    items: list[Any] = [{"a": 1, "b": "line\nbreak", "c": [1, {"d": None}]}, {"é": "ü"}, [], {}]
    for value in ([], items[:1], items):

        def whole(value: list[Any] = value) -> None:
            echo_json(value)

        def streamed(value: list[Any] = value) -> None:
            asyncio.run(echo_json_rows(rows_of(value)))

        runner = CliRunner()
        import click

        expected = runner.invoke(click.command()(whole)).output
        assert runner.invoke(click.command()(streamed)).output == expected


# -- 3. headers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "header"),
    [
        (("leads", "list"), "    ID  STATE               NAME  LOCATION"),
        (("outbox", "list"), "    ID  STATE      LEAD        STEP    MAILBOX  SUBJECT"),
        (("jobs", "list"), "   ID  KIND       STATE         PROGRESS  ERROR"),
        (("sequences", "list"), "  ID  NAME  STEPS AND ENROLLMENTS"),
        (("mailboxes", "list"), "NAME  FROM  SENDERS  SENT/CAP TODAY  WINDOW"),
    ],
)
def test_human_lists_start_with_their_column_names(
    tmp_path: Path, args: tuple[str, ...], header: str
) -> None:
    lines = outreach(tmp_path / "data", *args).stdout.splitlines()
    assert lines[0] == header


def test_the_header_tops_the_rows(filled: Path) -> None:
    lines = outreach(filled, "leads", "list", "--per-page", "3").stdout.splitlines()
    assert lines[0].split() == ["ID", "STATE", "NAME", "LOCATION"]
    assert [line.split()[0] for line in lines[1:]] == ["1", "2", "3"]


# -- 4. start-up -------------------------------------------------------------------------


def test_help_imports_neither_the_web_app_nor_the_kernel() -> None:
    probe = (
        "import sys\n"
        "from outreach.web.cli import cli\n"
        "try:\n"
        "    cli(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('litestar', 'outreach.web.app', 'outreach.kernel', 'piccolo', 'structlog')"
        " if m in sys.modules]\n"
        "print(','.join(heavy), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert "Commands:" in result.stdout
    assert result.stderr.strip() == ""


def test_a_command_that_reads_the_database_imports_no_web_app_nor_migrations(tmp_path: Path) -> None:
    # Not litestar itself: a plugin may import it for a page of its own.
    data = tmp_path / "data"
    outreach(data, "db", "migrate")
    probe = (
        "import sys\n"
        "from outreach.web.cli import cli\n"
        f"try:\n    cli(['--data-dir', {str(data)!r}, 'jobs', 'list'])\n"
        "except SystemExit:\n    pass\n"
        "heavy = [m for m in ('outreach.web.app', 'piccolo.apps.migrations.commands.base')"
        " if m in sys.modules]\n"
        "print(','.join(heavy), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.stderr.strip() == ""


def test_the_listed_help_is_each_commands_own() -> None:
    import click

    from outreach.web.cli import COMMANDS, cli

    ctx = click.Context(cli)
    for name, entry in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None, name
        for limit in (45, 60, 200):
            kept = click.Command(name, help=entry.help).get_short_help_str(limit)
            assert kept == command.get_short_help_str(limit), name


def test_the_engine_names_the_piccolo_app() -> None:
    from outreach.kernel.store.engine import APP_NAME, MIGRATIONS_FOLDER, migration_ids
    from outreach.kernel.store.piccolo_app import APP_CONFIG

    assert APP_CONFIG.app_name == APP_NAME
    assert Path(APP_CONFIG.resolved_migrations_folder_path).resolve() == MIGRATIONS_FOLDER
    ids = migration_ids()
    assert ids is not None
    assert len(ids) == len([p for p in MIGRATIONS_FOLDER.glob("*.py") if p.stem != "__init__"])


def test_plugin_commands_still_run(tmp_path: Path) -> None:
    assert outreach(tmp_path, "example-ping").stdout.strip() == "pong from the example plugin"
    unknown = outreach(tmp_path, "no-such-thing", check=False)
    assert unknown.returncode == 2
    assert "No such command" in unknown.stderr


def test_a_command_that_only_reads_the_store_loads_no_plugin(tmp_path: Path) -> None:
    # Loading the plugins is most of a command's start-up; `jobs list` needs none of them.
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['outreach', '--data-dir', {str(tmp_path / 'data')!r}, 'jobs', 'list']\n"
        "try:\n    runpy.run_module('outreach.web.cli', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('PLUGINS', sorted(m for m in sys.modules if m.startswith('outreach.plugins.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "PLUGINS []" in done.stdout
