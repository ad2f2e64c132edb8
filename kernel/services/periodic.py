"""Housekeeping on a timer, inside ``outreach serve`` and ``outreach worker``.

Every few minutes: emails with no bounce after the delivery window become
``delivered``. Once a day: the ``retention`` job is queued (by whichever process
gets there first; the check and the submission share one write transaction, so
several workers on one database queue it once).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog

from ..store.engine import write_transaction
from ..store.tables import JobRow
from . import deliveries, retention

if TYPE_CHECKING:
    from ..runtime import Runtime

log = structlog.get_logger("outreach.periodic")

#: How often the housekeeping runs.
INTERVAL_SECONDS = 300.0
#: How often retention runs.
RETENTION_EVERY = timedelta(days=1)


async def queue_retention(rt: Runtime) -> int | None:
    """Queue the retention job unless one was queued in the last day; the new job's id."""
    since = rt.clock() - RETENTION_EVERY
    async with write_transaction():
        recent = await JobRow.exists().where(
            (JobRow.kind == retention.JOB_KIND) & (JobRow.created_at > since)
        )
        if recent:
            return None
        job = await rt.jobs.submit(retention.JOB_KIND, {}, actor=retention.ACTOR)
    return job.id


class PeriodicTasks:
    """Runs the housekeeping every :data:`INTERVAL_SECONDS` until stopped."""

    def __init__(self, runtime: Runtime, interval: float = INTERVAL_SECONDS) -> None:
        self._rt = runtime
        self._interval = interval
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> None:
        """One round of housekeeping."""
        await deliveries.mark_delivered(self._rt)
        await queue_retention(self._rt)

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                await self.run_once()
            except Exception:  # a failed round is retried at the next one
                log.exception("housekeeping_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self._interval)

    def start(self) -> None:
        """Run in the background."""
        self._stop.clear()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Stop after the round in progress."""
        self._stop.set()
        if self._task is not None:
            task, self._task = self._task, None
            try:
                await asyncio.wait_for(task, timeout=10)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
