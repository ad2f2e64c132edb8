"""A discovery split into units (a grid's cells) that several workers search at once.

The process running the job plans the units with the source's ``plan``, writes them
and works through them; idle workers claim the queued ones (:func:`run_share`). Every
worker stores what it finds through the same upsert as a single search, so a place
two cells both list is one lead. The job's progress is the sum of its units'.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from ..contracts import DiscoveryQuery
from ..errors import DiscoveryError
from ..models import Job
from . import job_units
from .jobs import process_owner

if TYPE_CHECKING:
    from ..job_runner import JobProgress
    from ..protocols import SplittableSource
    from ..runtime import Runtime

log = structlog.get_logger("outreach.discovery")

OUTCOMES = ("created", "updated", "unchanged")
#: Seconds between two looks at units other workers hold, while waiting for them.
WAIT_INTERVAL = 0.5


async def _store(
    rt: Runtime, source: SplittableSource, query: DiscoveryQuery, work: job_units.UnitWork
) -> None:
    """Store what the source finds in the units this process claims, at most ``max_results``."""
    businesses = source.discover_units(query, work, work)
    stored = 0
    try:
        async for business in businesses:
            lead, outcome = await rt.leads.upsert_discovered(business, source.name)
            work.count(outcome)
            stored += 1
            log.debug(
                "lead_discovered", lead_id=lead.id, job_id=work.job_id, outcome=outcome, source=source.name
            )
            work.check()
            if query.max_results is not None and stored >= query.max_results:
                break
    finally:
        # Closing the generator lets a source shut its browser when the work stops early.
        close = getattr(businesses, "aclose", None)
        if close is not None:
            await close()


def _enough(job_id: int, wanted: int | None):  # type: ignore[no-untyped-def]
    """Whether the job's units together stored ``wanted`` results (asked before each claim)."""

    async def enough() -> bool:
        if wanted is None:
            return False
        counters = (await job_units.summary(job_id)).counters
        return sum(counters.get(name, 0) for name in OUTCOMES) >= wanted

    return enough


async def run_units(
    rt: Runtime,
    job: Job,
    progress: JobProgress,
    source: SplittableSource,
    query: DiscoveryQuery,
    units: list[dict[str, Any]],
    outcomes: dict[str, int],
    entry: dict[str, Any],
) -> None:
    """Write the job's units, work through them with any other workers, and add up what they stored.

    Returns when every unit is done, failed or skipped; raises :class:`DiscoveryError`
    when every unit failed (with the first unit's reason).
    """
    # What the job counted apart from its units (a resumed job's progress already holds theirs).
    before = await job_units.summary(job.id)
    counted = {name: n - before.counters.get(name, 0) for name, n in progress.counters.items()}
    base = (
        progress.done - before.done,
        None if progress.total is None else progress.total - (before.total or 0),
        {name: n for name, n in counted.items() if n},
        list(progress.reports[: max(0, len(progress.reports) - len(before.report))]),
    )
    await job_units.plan(job.id, units)

    async def mirror() -> job_units.UnitsSummary:
        total = await job_units.summary(job.id)
        done, planned, counters, reports = base
        merged = dict(counters)
        for name, n in total.counters.items():
            merged[name] = merged.get(name, 0) + n
        progress.replace(
            done=done + total.done,
            total=None if total.total is None else (planned or 0) + total.total,
            counters=merged,
            reports=reports + total.report,
        )
        return total

    async def mirror_forever() -> None:
        while True:
            await asyncio.sleep(1.0)
            with contextlib.suppress(Exception):
                await mirror()

    def stopping() -> str | None:
        if not progress.cancelled:
            return None
        return "interrupted" if progress.interrupted else "cancelled"

    owner = process_owner()
    enough = _enough(job.id, query.max_results)
    mirroring = asyncio.create_task(mirror_forever())
    try:
        while True:
            if progress.cancelled or await enough():
                if not progress.interrupted:
                    await job_units.skip_queued(job.id)
                break
            # Claimed before the source starts, so that no browser opens for nothing.
            first = await job_units.claim(owner, job_id=job.id)
            if first is not None:
                work = job_units.UnitWork(job.id, owner, first=first, enough=enough, stopping=stopping)
                try:
                    await job_units.work_through(work, lambda w: _store(rt, source, query, w))
                except Exception:
                    await job_units.skip_queued(job.id)
                    raise
                continue
            if not (await job_units.summary(job.id)).unfinished:
                break
            # Others hold the rest; claim() takes back the units of a worker that died.
            await asyncio.sleep(WAIT_INTERVAL)
    finally:
        mirroring.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await mirroring
        # Also when the search failed: a fallback source continues for what is still missing.
        total = await mirror()
        for name in OUTCOMES:
            outcomes[name] += total.counters.get(name, 0)
        entry["found"] += sum(total.counters.get(name, 0) for name in OUTCOMES)
    if total.errors and total.states.get(job_units.UnitState.FAILED) == sum(total.states.values()):
        raise DiscoveryError(total.errors[0])
    for error in total.errors:
        log.warning("discovery_unit_failed", job_id=job.id, reason=error)


async def run_share(rt: Runtime, job: Job, work: job_units.UnitWork) -> None:
    """Unit handler: search the units of another process's discovery job that this worker claims."""
    source = rt.plugins.discovery_sources.get(job.params["source"])
    query = msgspec.convert(job.params["query"], DiscoveryQuery)
    log.info("discovery_share_started", job_id=job.id, source=source.name)
    await job_units.work_through(work, lambda w: _store(rt, source, query, w))  # type: ignore[arg-type]
    log.info("discovery_share_finished", job_id=job.id, units=work.worked, reason=work.stop_reason)
