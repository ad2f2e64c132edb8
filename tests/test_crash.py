"""Worker processes on one SQLite database: one killed with SIGKILL mid-batch and restarted, and two at once.

The SMTP sink files every message it accepts in a Maildir that a real Dovecot serves as the
account's Sent folder, so the restarted worker settles interrupted sends by their Message-ID.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest
from engine_helpers import LEGAL_TOML, enrolled
from mail_servers import Sink, SinkHandler
from support.dovecot import ImapServer, running_dovecot

from outreach.kernel.config import load_settings
from outreach.kernel.runtime import Runtime
from outreach.kernel.store.tables import AuditRow

SINGLE_STEP = """
name = "intro"
[[steps]]
subject = "Hello {{ business_name }}"
body = "Hi {{ first_name | default('there') }}, {{ first_line }}"
"""


def write_config(path: Path, data_dir: Path, smtp_port: int, imap: ImapServer | None, batch: int) -> Path:
    sent_folder = ""
    if imap is not None:
        sent_folder = f"""
[sender.smtp.sent_folder]
host = "127.0.0.1"
port = {imap.port}
tls = false
username = "{imap.username}"
password = "env:OUTREACH_TEST_IMAP_PASSWORD"
folder = "Sent"
"""
    path.write_text(
        f"""
data_dir = "{data_dir}"

[sender]
backend = "smtp"

[sender.smtp]
host = "127.0.0.1"
port = {smtp_port}
timeout = 10
{sent_folder}
[sending]
batch_size = {batch}
rate_limit_per_minute = 0
reconcile_after_seconds = 0
poll_seconds = 0.2

[[mailboxes]]
name = "main"
from_address = "Ann Example <ann@main.example>"
daily_cap = 10000
window = "00:00-24:00"
weekdays_only = false
min_gap_seconds = 0
"""
        + LEGAL_TOML
    )
    return path


async def prepare(config: Path, count: int) -> None:
    rt = await Runtime.open(load_settings(config), load_entry_points=False)
    try:
        await enrolled(rt, count, sequence=SINGLE_STEP)
    finally:
        await rt.close()


async def worker(config: Path, *args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "OUTREACH_TEST_IMAP_PASSWORD": "imap-secret"}  # running_dovecot's default
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "outreach.web.cli",
        "--config",
        str(config),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )


async def outbox_json(config: Path) -> list[dict]:
    process = await worker(config, "outbox", "list", "--per-page", "1000", "--json")
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    return json.loads(out)


@pytest.fixture
def dovecot():
    with running_dovecot() as server:
        yield server


def sent_folder(imap: ImapServer) -> Path:
    """The account's Sent folder as a Maildir++ directory the sink can file messages into."""
    folder = imap.root / "mail" / imap.username / ".Sent"
    owner = (imap.root / "mail").stat()
    for path in (folder.parent, folder, folder / "cur", folder / "new", folder / "tmp"):
        path.mkdir(exist_ok=True)
        os.chown(path, owner.st_uid, owner.st_gid)
    return folder


async def test_a_worker_killed_mid_batch_then_restarted_sends_every_email_exactly_once(
    tmp_path, dovecot
) -> None:
    victim: dict[str, int] = {}

    def kill_on_fifteenth(received) -> None:
        # The 15th message is stored (and filed in Sent) but the worker dies before it hears "250".
        if len(handler.received) == 15 and "pid" in victim:
            os.kill(victim["pid"], signal.SIGKILL)

    handler = SinkHandler(maildir=sent_folder(dovecot), on_message=kill_on_fifteenth)
    sink = await Sink(handler).start()
    try:
        config = write_config(tmp_path / "outreach.toml", tmp_path / "data", sink.port, dovecot, batch=10)
        await prepare(config, 40)

        first = await worker(config, "send", "--until-idle")
        victim["pid"] = first.pid
        await asyncio.wait_for(first.communicate(), timeout=60)
        assert first.returncode == -signal.SIGKILL
        emails = await outbox_json(config)
        interrupted = [e for e in emails if e["state"] == "sending"]
        assert interrupted, "the kill left emails in sending"
        assert len(handler.received) == 15

        second = await worker(config, "send", "--until-idle")
        _, err = await asyncio.wait_for(second.communicate(), timeout=90)
        assert second.returncode == 0, err.decode()
    finally:
        await sink.stop()

    emails = await outbox_json(config)
    assert len(emails) == 40
    assert {e["state"] for e in emails} == {"sent"}
    counts = handler.message_ids()
    assert max(counts.values()) == 1, "a Message-ID reached the server twice"
    assert set(counts) == {e["message_id"] for e in emails}
    found = [e for e in emails if e["id"] in {i["id"] for i in interrupted} and e["sender_backend"] == "smtp"]
    assert len(found) == len(interrupted)


async def test_two_worker_processes_on_one_database_send_no_email_twice(tmp_path) -> None:
    handler = SinkHandler()
    sink = await Sink(handler).start()
    try:
        config = write_config(tmp_path / "outreach.toml", tmp_path / "data", sink.port, None, batch=5)
        await prepare(config, 120)
        workers = [await worker(config, "send", "--until-idle") for _ in range(2)]
        results = await asyncio.wait_for(asyncio.gather(*(w.communicate() for w in workers)), timeout=120)
        for process, (_, err) in zip(workers, results, strict=True):
            assert process.returncode == 0, err.decode()
    finally:
        await sink.stop()
    emails = await outbox_json(config)
    assert len(emails) == 120
    assert {e["state"] for e in emails} == {"sent"}
    counts = handler.message_ids()
    assert len(counts) == 120
    assert max(counts.values()) == 1
    # Both processes took part (each one's owner appears in the audit trail of some claims).
    claims = await claimants(config)
    assert len(claims) == 2


async def claimants(config: Path) -> set[str]:
    rt = await Runtime.open(load_settings(config), load_entry_points=False)
    try:
        rows = await AuditRow.select(AuditRow.actor).where(AuditRow.action == "transition:queued->sending")
        return {r["actor"] for r in rows}
    finally:
        await rt.close()
