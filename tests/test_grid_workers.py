"""A gridded Maps discovery shared by two ``outreach worker`` processes on one database.

The job's process plans the grid's cells as units; the other worker, idle, claims
queued cells of the running job. Each cell is searched once, the leads of overlapping
cells are one lead each, and the job's progress adds up the cells'. A worker killed
while it searched a cell leaves that cell to the other.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from maps_fixture import MapsFixture

from outreach.kernel import DiscoveryQuery
from outreach.kernel.config import load_settings
from outreach.kernel.runtime import Runtime
from outreach.kernel.services import job_units
from outreach.kernel.services.discovery import submit_discovery
from outreach.kernel.services.transitions import utcnow
from outreach.kernel.store.tables import JobRow, JobUnitRow, LeadRow

pytestmark = pytest.mark.browser

AUSTIN = "30.2672,-97.7431"
#: 90 results at 10 a search: a 3 x 3 grid. The fixture holds 40 places, so every cell is searched.
MAX_RESULTS, CELLS = 90, 9


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str | None:
    """The store the workers share: a fresh PostgreSQL database, or the data dir's SQLite file.

    Each test names its engine (an indirect parameter): both engines are covered without
    running every multi-process test twice.
    """
    return request.getfixturevalue("postgres_url") if request.param == "postgres" else None


@pytest.fixture
def maps():
    with MapsFixture(per_search=12, consent=False) as server:
        yield server


@pytest.fixture
async def grid(tmp_path: Path, maps: MapsFixture, database_url: str | None):  # type: ignore[no-untyped-def]
    """The test's runtime and two ``outreach worker`` processes on one store, stopped after the test."""
    config = write_config(tmp_path, maps, database_url)
    rt = await Runtime.open(load_settings(config), load_entry_points=False)
    workers = [await start_worker(config, f"worker{i}") for i in range(2)]
    try:
        yield rt, workers
    finally:
        for process in workers:
            await stop(process)
        await rt.close()


def write_config(tmp_path: Path, maps: MapsFixture, url: str | None) -> Path:
    database = f'\n[database]\nurl = "{url}"\n' if url else ""
    config = tmp_path / "outreach.toml"
    config.write_text(
        f"""
data_dir = "{tmp_path / "data"}"
{database}
[plugins.google_maps]
base_url = "{maps.url}"
pause = [0, 0]
timeout = 5
scroll_wait = 0.4
idle_scrolls = 2
per_search = 10
pages = 2
nominatim_url = ""
"""
    )
    return config


async def start_worker(config: Path, name: str) -> asyncio.subprocess.Process:
    """``outreach worker`` in the background, its output in files (a pipe nobody reads fills up)."""
    log = config.parent / f"{name}.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "outreach.web.cli",
            "--config",
            str(config),
            "worker",
            stdout=out,
            stderr=out,
        )
    deadline = time.monotonic() + 60
    while b"worker_started" not in log.read_bytes():
        assert process.returncode is None, log.read_text()
        assert time.monotonic() < deadline, "the worker did not start"
        await asyncio.sleep(0.2)
    return process


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=30)


async def finished(rt: Runtime, job_id: int):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 240
    while (job := await rt.jobs.get(job_id)).state in ("queued", "running"):
        assert time.monotonic() < deadline, f"the job is still {job.state}"
        await asyncio.sleep(0.3)
    return job


async def submit(rt: Runtime) -> int:
    query = DiscoveryQuery(query="plumbers", location=AUSTIN, max_results=MAX_RESULTS)
    return (await submit_discovery(rt, "google_maps", query, actor="test")).id


def owner_of(process: asyncio.subprocess.Process) -> str:
    return f"{socket.gethostname()}:{process.pid}"


async def assert_leads_are_one_per_place(job, maps: MapsFixture) -> None:  # type: ignore[no-untyped-def]
    """Every place any cell listed is one lead, whichever worker found it first."""
    leads = await LeadRow.select(LeadRow.place_id)
    assert sorted(row["place_id"] for row in leads) == sorted(set(maps.cards_served))
    assert len(leads) > 12  # more than one cell's worth
    assert job.counters["created"] == len(leads)
    stored = sum(job.counters.get(name, 0) for name in ("created", "updated", "unchanged"))
    assert stored == job.counters["found"]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_workers_share_the_cells_of_one_discovery(grid, maps) -> None:
    rt, workers = grid
    job = await finished(rt, await submit(rt))
    assert job.state == "succeeded", job.error
    units = await job_units.units_of(job.id)
    # Both processes searched cells; every cell once.
    assert {unit.owner for unit in units} == {owner_of(w) for w in workers}
    assert len(units) == CELLS
    assert [unit.state for unit in units] == ["done"] * CELLS
    assert [unit.attempts for unit in units] == [1] * CELLS
    assert maps.hits["search"] == CELLS
    await assert_leads_are_one_per_place(job, maps)
    # Overlapping cells listed places twice: the duplicates became updates, not leads.
    assert len(maps.cards_served) > len(set(maps.cards_served))
    # The job's progress is the sum of its cells'.
    added: Counter[str] = Counter()
    for unit in units:
        added.update(unit.counters)
    assert job.counters == dict(added)
    assert job.progress_done == sum(unit.done for unit in units) == job.counters["found"]
    assert job.progress_total == sum(unit.total or 0 for unit in units)
    assert job.result["created"] == job.counters["created"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_cell_left_by_a_killed_worker_is_searched_by_the_other(grid, maps) -> None:
    rt, workers = grid
    job_id = await submit(rt)
    # Wait for the helper (the worker that does not run the job) to hold a cell, then kill it.
    job_owner, cell = await held_by_helper(job_id)
    (victim,) = [w for w in workers if owner_of(w) == cell.owner]
    victim.send_signal(signal.SIGKILL)
    await asyncio.wait_for(victim.wait(), timeout=30)

    job = await finished(rt, job_id)
    assert job.state == "succeeded", job.error
    units = await job_units.units_of(job_id)
    assert [unit.state for unit in units] == ["done"] * CELLS
    taken_again = next(unit for unit in units if unit.id == cell.id)
    assert taken_again.attempts == 2
    assert taken_again.owner == job_owner
    await assert_leads_are_one_per_place(job, maps)


async def held_by_helper(job_id: int) -> tuple[str, job_units.JobUnit]:
    """Wait until a worker other than the job's own holds a cell; the job's owner and that cell."""
    deadline = time.monotonic() + 120
    while True:
        job_owner = (await JobRow.select(JobRow.owner).where(JobRow.id == job_id).first())["owner"]
        held = [u for u in await job_units.units_of(job_id) if u.state == "running" and u.owner != job_owner]
        if job_owner and held:
            return job_owner, held[0]
        assert time.monotonic() < deadline, "no worker but the job's own took a cell"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_cancelling_the_job_stops_every_worker_on_its_cells(grid, maps) -> None:
    rt, workers = grid
    job_id = await submit(rt)
    await held_by_helper(job_id)
    await rt.jobs.request_cancel(job_id, actor="test")
    job = await finished(rt, job_id)
    assert job.state == "cancelled"
    deadline = time.monotonic() + 30
    while "running" in (states := Counter(u.state for u in await job_units.units_of(job_id))):
        assert time.monotonic() < deadline, f"cells still searched after the cancel: {states}"
        await asyncio.sleep(0.2)
    assert states["skipped"] >= 2  # the cells in hand and those never started
    assert set(states) <= {"done", "skipped"}
    searches = maps.hits["search"]
    await asyncio.sleep(2)
    assert maps.hits["search"] == searches < CELLS
    assert all(w.returncode is None for w in workers)  # both workers live on


async def test_a_unit_whose_heartbeat_stopped_is_claimed_again(make_runtime, settings) -> None:
    rt = await make_runtime(settings, load_entry_points=False)
    job = await rt.jobs.submit("discover", {}, actor="test")
    await JobRow.update({JobRow.state: "running"}).where(JobRow.id == job.id)
    await job_units.plan(job.id, [{"cell": 0}, {"cell": 1}])
    first = await job_units.claim("elsewhere:1", job_id=job.id)
    assert first is not None
    assert first.unit == {"cell": 0}
    # A live heartbeat keeps the unit with its owner, on another host as on this one.
    second = await job_units.claim("here:2", kinds=["discover"])
    assert second is not None
    assert second.unit == {"cell": 1}
    assert await job_units.claim("here:2", kinds=["discover"]) is None
    # Silent for longer than a job may be: the unit goes back to the queue.
    old = utcnow() - timedelta(minutes=5)
    await JobUnitRow.update({JobUnitRow.heartbeat_at: old}).where(JobUnitRow.id == first.id)
    again = await job_units.claim("here:2", kinds=["discover"])
    assert again is not None
    assert (again.id, again.attempts, again.owner) == (first.id, 2, "here:2")
    # A cancelled job hands out no more units, even those back in the queue.
    await JobUnitRow.update({JobUnitRow.heartbeat_at: old}).where(JobUnitRow.id == second.id)
    await JobRow.update({JobRow.cancel_requested: True}).where(JobRow.id == job.id)
    assert await job_units.requeue_orphans() == [second.id]
    assert await job_units.claim("here:3", kinds=["discover"]) is None
    await job_units.skip_queued(job.id)
    assert [unit.state for unit in await job_units.units_of(job.id)] == ["running", "skipped"]
