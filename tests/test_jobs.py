"""Jobs: progress in the table, cancellation, and jobs orphaned by a dead process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import textwrap

import pytest

from outreach.kernel import DiscoveryQuery
from outreach.kernel.job_runner import JobRunner
from outreach.kernel.services.discovery import submit_discovery

# The store's behaviour, on SQLite and on PostgreSQL alike.
pytestmark = pytest.mark.both_engines

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
        rt = await Runtime.open(parse_settings({"data_dir": sys.argv[1], **database}))
        rt.runner.register("hold", forever)
        job = await rt.jobs.submit("hold", {}, actor="test")
        await rt.runner.run_now(job.id)

    asyncio.run(main())
    """
)


async def test_a_job_left_running_by_a_killed_process_is_interrupted_and_resumable(runtime, data_dir) -> None:
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
        assert job.progress_done == 3
        assert job.progress_total == 10
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        await holder.wait()

    assert await runtime.jobs.mark_interrupted() == [job.id]
    interrupted = await runtime.jobs.get(job.id)
    assert interrupted.state == "interrupted"
    assert "resume" in interrupted.error

    resumed = await runtime.jobs.resume(job.id, actor="test")
    assert resumed.state == "queued"
    assert resumed.progress_done == 3  # kept, so the handler can continue from there


async def test_runner_runs_queued_jobs_in_the_background(runtime, tmp_path) -> None:
    path = tmp_path / "few.csv"
    path.write_text("name\nA\nB\nC\n")
    job = await submit_discovery(runtime, "csv", DiscoveryQuery(query=str(path)), actor="test")
    await runtime.start_background()
    for _ in range(100):
        current = await runtime.jobs.get(job.id)
        if current.state == "succeeded":
            break
        await asyncio.sleep(0.05)
    assert current.state == "succeeded"
    assert current.counters["created"] == 3
    assert current.result == {"created": 3, "updated": 0, "unchanged": 0}


async def test_cancel_stops_a_running_job(runtime) -> None:
    started = asyncio.Event()

    async def slow(rt, job, progress):
        started.set()
        for _ in range(200):
            progress.advance()
            progress.check()
            await asyncio.sleep(0.01)

    runtime.runner.register("slow", slow)
    job = await runtime.jobs.submit("slow", {}, actor="test")
    task = asyncio.create_task(runtime.runner.run_now(job.id))
    await started.wait()
    await runtime.jobs.request_cancel(job.id, actor="test")
    finished = await task
    assert finished.state == "cancelled"
    assert finished.progress_done < 200


async def test_a_crashing_handler_fails_its_job_with_a_sentence(runtime) -> None:
    async def broken(rt, job, progress):
        raise KeyError("oops")

    runtime.runner.register("broken", broken)
    job = await runtime.jobs.submit("broken", {}, actor="test")
    finished = await runtime.runner.run_now(job.id)
    assert finished.state == "failed"
    assert "Unexpected error" in finished.error


async def test_run_now_follows_a_job_another_process_claimed_first(runtime) -> None:
    # A running `outreach serve` may claim the CLI's job before the CLI does; the CLI
    # then waits for that job's end instead of reporting it as still running.
    release = asyncio.Event()

    async def imported(rt, job, progress):
        progress.set_total(2)
        progress.advance(2)
        progress.count("created", 2)
        await release.wait()
        return {"created": 2}

    server = JobRunner(runtime, poll_interval=0.05)
    server.register("import", imported)
    runtime.runner.register("import", imported)
    job = await runtime.jobs.submit("import", {}, actor="test")
    claimed = await runtime.jobs.claim_next("server", kinds=["import"])
    serving = asyncio.create_task(server.run(claimed))

    seen: list[int] = []
    following = asyncio.create_task(runtime.runner.run_now(job.id, on_change=lambda p: seen.append(p.done)))
    await asyncio.sleep(0.3)
    assert not following.done()
    release.set()
    finished = await asyncio.wait_for(following, timeout=10)
    await serving
    assert finished.state == "succeeded"
    assert finished.counters["created"] == 2
    assert finished.result == {"created": 2}
    assert seen
    assert seen[-1] == 2


async def test_run_now_stops_following_a_job_whose_process_died(runtime) -> None:
    job = await runtime.jobs.submit("import", {}, actor="test")
    dead_owner = f"{socket.gethostname()}:{2**22 + 12345}"
    assert await runtime.jobs.claim_next(dead_owner, kinds=["import"]) is not None
    finished = await asyncio.wait_for(runtime.runner.run_now(job.id), timeout=10)
    assert finished.state == "interrupted"
    assert "resume" in finished.error
