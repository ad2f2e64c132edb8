"""Many workers on one database: work queued in one process wakes the others at once
(LISTEN/NOTIFY on PostgreSQL), and a job left by a dead or stopped process is taken over."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest
from engine_helpers import LEGAL_TOML
from mail_servers import Sink, SinkHandler

from outreach.kernel.config import load_settings
from outreach.kernel.job_runner import JobRunner
from outreach.kernel.runtime import Runtime
from outreach.kernel.store.tables import AuditRow, EmailRow

TESTS = Path(__file__).resolve().parent
#: Far longer than any wait below: work found sooner was found because a signal woke its worker.
LONG_POLL = 30.0
#: How soon after it was queued the work must have started.
PROMPTLY = 5.0

#: Queues work in a process of its own, then exits: ``config`` and ``job`` or ``email``.
QUEUER = textwrap.dedent(
    """
    import asyncio, sys
    sys.path.insert(0, sys.argv[3])
    from engine_helpers import ONE_STEP, enrolled
    from outreach.kernel.config import load_settings
    from outreach.kernel.runtime import Runtime

    async def main():
        rt = await Runtime.open(load_settings(sys.argv[1]), load_entry_points=False)
        try:
            if sys.argv[2] == "job":
                await rt.jobs.submit("notice", {}, actor="test")
            else:
                await enrolled(rt, 1, sequence=ONE_STEP)
        finally:
            await rt.close()

    asyncio.run(main())
    """
)

#: Runs a ``hold`` job that never ends (after some progress) until it is killed: ``data_dir [url]``.
HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from outreach.kernel.config import parse_settings
    from outreach.kernel.runtime import Runtime

    async def forever(rt, job, progress):
        progress.set_total(10)
        progress.advance(3)
        await progress.flush()
        print("running", flush=True)
        await asyncio.sleep(3600)

    async def main():
        database = {"database": {"url": sys.argv[2]}} if len(sys.argv) > 2 else {}
        rt = await Runtime.open(parse_settings({"data_dir": sys.argv[1], **database}), load_entry_points=False)
        rt.runner.register("hold", forever, resumable=True)
        job = await rt.jobs.submit("hold", {}, actor="test")
        await rt.runner.run_now(job.id)

    asyncio.run(main())
    """
)


def write_config(path: Path, data_dir: Path, url: str, smtp_port: int) -> Path:
    """A config both processes open: one database, the SMTP sink, polls of :data:`LONG_POLL`."""
    path.write_text(
        f"""
data_dir = "{data_dir}"

[database]
url = "{url}"

[sender]
backend = "smtp"

[sender.smtp]
host = "127.0.0.1"
port = {smtp_port}
timeout = 10

[sending]
rate_limit_per_minute = 0
poll_seconds = {LONG_POLL}

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


async def queue_elsewhere(config: Path, what: str) -> None:
    """Queue a job or an email in another process and wait for it to exit."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", QUEUER, str(config), what, str(TESTS), stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()


async def until(predicate, within: float):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` (async) until it returns something true; that value."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {within} s")


async def listening_worker(config: Path) -> Runtime:
    """A runtime whose runner and outbox poll every :data:`LONG_POLL` s, its background started
    and idle (past its first look for work), listening for signals."""
    rt = await Runtime.open(load_settings(config), load_entry_points=False)
    rt.runner = JobRunner(rt, poll_interval=LONG_POLL)

    async def notice(rt, job, progress):  # type: ignore[no-untyped-def]
        return {"noticed": True}

    rt.runner.register("notice", notice)
    await rt.start_background()
    await asyncio.wait_for(rt.signals.listening.wait(), timeout=10)
    await asyncio.sleep(1)  # the runner's and the outbox's first rounds found nothing: both are waiting
    return rt


@pytest.fixture
async def sink():
    handler = SinkHandler()
    server = await Sink(handler).start()
    yield server
    await server.stop()


async def test_a_job_queued_by_another_process_starts_at_once(tmp_path, data_dir, postgres_url, sink) -> None:
    config = write_config(tmp_path / "outreach.toml", data_dir, postgres_url, sink.port)
    worker = await listening_worker(config)
    try:
        await queue_elsewhere(config, "job")
        (job,) = await until(lambda: worker.jobs.list(state="succeeded"), within=PROMPTLY)
        assert job.kind == "notice"
        assert job.result == {"noticed": True}
        assert (job.started_at - job.created_at).total_seconds() < PROMPTLY
    finally:
        await worker.close()


async def test_an_email_queued_by_another_process_is_sent_at_once(
    tmp_path, data_dir, postgres_url, sink
) -> None:
    config = write_config(tmp_path / "outreach.toml", data_dir, postgres_url, sink.port)
    worker = await listening_worker(config)
    try:
        await queue_elsewhere(config, "email")

        async def sent():  # type: ignore[no-untyped-def]
            return await EmailRow.select(EmailRow.created_at, EmailRow.sent_at).where(
                EmailRow.state == "sent"
            )

        (row,) = await until(sent, within=PROMPTLY)
        assert (row["sent_at"] - row["created_at"]).total_seconds() < PROMPTLY
        (received,) = sink.handler.received
        assert received.rcpt_tos == ["owner0@lead0.example"]
    finally:
        await worker.close()


async def test_a_lost_listening_connection_reconnects_and_looks_for_what_it_missed(
    tmp_path, data_dir, postgres_url, sink
) -> None:
    config = write_config(tmp_path / "outreach.toml", data_dir, postgres_url, sink.port)
    worker = await listening_worker(config)
    try:
        signals = worker.signals
        pid = signals.backend_pid
        assert pid is not None
        await worker.engine.run_ddl(f"SELECT pg_terminate_backend({pid})")
        await until(lambda: _true(not signals.listening.is_set()), within=10)
        # Queued while nobody listens: its signal is lost, so the worker looks once it listens again.
        job = await worker.jobs.submit("notice", {}, actor="test")
        await asyncio.wait_for(signals.listening.wait(), timeout=10)
        assert signals.backend_pid not in (None, pid)
        await until(lambda: _succeeded(worker, job.id), within=PROMPTLY)
        # And what is queued now wakes it as before.
        later = await worker.jobs.submit("notice", {}, actor="test")
        await until(lambda: _succeeded(worker, later.id), within=PROMPTLY)
    finally:
        await worker.close()


async def _true(value: bool) -> bool:
    return value


async def _succeeded(rt: Runtime, job_id: int) -> bool:
    return (await rt.jobs.get(job_id)).state == "succeeded"


@pytest.mark.both_engines
async def test_a_job_whose_process_was_killed_is_resumed_by_a_living_worker(runtime, data_dir) -> None:
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HOLDER,
        str(data_dir),
        *([runtime.settings.database.url] if runtime.settings.database.url else []),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        line = await asyncio.wait_for(holder.stdout.readline(), timeout=30)
        assert line.decode().strip() == "running"
        (job,) = await runtime.jobs.list()
        assert job.state == "running"
        # A worker that runs while the holder holds its job.
        seen: list[int] = []

        async def finish(rt, job, progress):  # type: ignore[no-untyped-def]
            seen.append(progress.done)
            progress.advance(10 - progress.done)
            return {"finished": True}

        runtime.runner = JobRunner(runtime, poll_interval=LONG_POLL, orphan_check=0.2)
        runtime.runner.register("hold", finish, resumable=True)
        await runtime.start_background()
        await asyncio.sleep(0.5)
        assert (await runtime.jobs.get(job.id)).state == "running"  # its owner lives: not taken
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        await holder.wait()

    await until(lambda: _succeeded(runtime, job.id), within=10)
    finished = await runtime.jobs.get(job.id)
    assert finished.result == {"finished": True}
    assert finished.progress_done == 10
    assert seen == [3]  # resumed from the progress the killed process had saved
    actions = (
        await AuditRow.select(AuditRow.action, AuditRow.actor)
        .where((AuditRow.entity == "job") & (AuditRow.entity_id == job.id))
        .order_by(AuditRow.id)
    )
    assert [a["action"] for a in actions] == ["submitted", "interrupted", "resumed", "finished:succeeded"]
    assert actions[2]["actor"].startswith("system:jobs:")


@pytest.mark.both_engines
async def test_a_job_stopped_by_its_process_shutdown_is_taken_over_only_by_a_worker_already_running(
    runtime,
) -> None:
    # Two runners in one runtime stand for two processes: ``leaving`` shuts down while
    # ``staying`` runs; ``late`` starts only after the shutdown.
    holding = asyncio.Event()

    async def hold(rt, job, progress):  # type: ignore[no-untyped-def]
        progress.advance(2)
        holding.set()
        while True:  # until the runner stops it
            progress.check()
            await asyncio.sleep(0.02)

    async def finish(rt, job, progress):  # type: ignore[no-untyped-def]
        return {"done_before": progress.done}

    leaving = JobRunner(runtime, poll_interval=0.05)
    leaving.register("hold", hold)
    leaving.register("once", hold)
    job = await runtime.jobs.submit("hold", {}, actor="test")
    await leaving.start()
    await asyncio.wait_for(holding.wait(), timeout=10)
    holding.clear()
    other = await runtime.jobs.submit("once", {}, actor="test")
    await asyncio.wait_for(holding.wait(), timeout=10)

    staying = JobRunner(runtime, poll_interval=LONG_POLL, orphan_check=0.2)
    staying.register("hold", finish, resumable=True)
    staying.register("once", finish)  # runs it, but cannot take it over: its handler does not resume
    await staying.start()
    try:
        await leaving.stop()
        await until(lambda: _succeeded(runtime, job.id), within=10)
        assert (await runtime.jobs.get(job.id)).result == {"done_before": 2}
        await asyncio.sleep(0.6)
        assert (await runtime.jobs.get(other.id)).state == "interrupted"
    finally:
        await staying.stop()

    # With no worker running at the shutdown, the job waits for a person, as it always has.
    holding.clear()
    third = await runtime.jobs.submit("hold", {}, actor="test")
    again = JobRunner(runtime, poll_interval=0.05)
    again.register("hold", hold)
    await again.start()
    await asyncio.wait_for(holding.wait(), timeout=10)
    await again.stop()
    late = JobRunner(runtime, poll_interval=0.05, orphan_check=0.1)
    late.register("hold", finish, resumable=True)
    await late.start()
    try:
        await asyncio.sleep(0.6)
        stopped = await runtime.jobs.get(third.id)
        assert stopped.state == "interrupted"
        assert "resume" in stopped.error
        await runtime.jobs.resume(third.id, actor="test")
        await until(lambda: _succeeded(runtime, third.id), within=10)
    finally:
        await late.stop()
