"""Running jobs: an asyncio runner inside ``outreach serve`` and ``outreach worker``.

Handlers are registered by kind (``discover``, ``analyze``...). Each runs with a
:class:`JobProgress`, which plugins see as the :class:`~outreach.kernel.protocols.Progress`
protocol: counting is a cheap in-memory call, and a background task writes the
counters and a heartbeat to the ``jobs`` row about once a second, reading back
whether a person asked the job to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from .errors import JobCancelled, OutreachError
from .models import Job
from .services import job_units
from .services.jobs import STALE_AFTER, JobService, JobState, process_owner
from .services.transitions import utcnow

if TYPE_CHECKING:
    from .runtime import Runtime

log = structlog.get_logger("outreach.jobs")

JobHandler = Callable[["Runtime", Job, "JobProgress"], Awaitable[dict[str, Any] | None]]

#: How many report lines a job keeps (the first ones; the count is always exact).
REPORT_LIMIT = 1000


class JobProgress:
    """Progress of one running job, flushed to its row in the background."""

    def __init__(
        self,
        job: Job,
        service: JobService,
        on_change: Callable[[JobProgress], None] | None = None,
        flush_interval: float = 1.0,
    ) -> None:
        self.job = job
        self.done = job.progress_done
        self.total = job.progress_total
        self.counters: dict[str, int] = dict(job.counters)
        self.reports: list[dict[str, Any]] = list(job.report)
        self._service = service
        self._on_change = on_change
        self._interval = flush_interval
        self._cancelled = False
        self._interrupted = False
        self._dirty = True

    # -- the Progress protocol ---------------------------------------------------------

    def set_total(self, total: int | None) -> None:
        """Say how many units of work there are."""
        self.total = total
        self._changed()

    def advance(self, n: int = 1) -> None:
        """Count ``n`` units as done."""
        self.done += n
        self._changed()

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to the counter ``name``."""
        self.counters[name] = self.counters.get(name, 0) + n
        self._changed()

    def report(self, message: str, *, line: int | None = None, **fields: Any) -> None:
        """Record a problem for the person running the job."""
        self.counters["problems"] = self.counters.get("problems", 0) + 1
        if len(self.reports) < REPORT_LIMIT:
            entry: dict[str, Any] = {"message": message}
            if line is not None:
                entry["line"] = line
            entry.update(fields)
            self.reports.append(entry)
        self._changed()

    @property
    def cancelled(self) -> bool:
        """Whether a person asked the job to stop."""
        return self._cancelled

    # -- runner side -----------------------------------------------------------------

    def cancel(self) -> None:
        """Ask the job to stop at its next check."""
        self._cancelled = True

    def interrupt(self) -> None:
        """Stop the job because the process is shutting down; it stays resumable."""
        self._interrupted = True
        self._cancelled = True

    @property
    def interrupted(self) -> bool:
        """Whether the job was stopped by a shutdown rather than by a person."""
        return self._interrupted

    def check(self) -> None:
        """Raise :class:`JobCancelled` if a person asked the job to stop."""
        if self._cancelled:
            raise JobCancelled(f"Job {self.job.id} was cancelled.")

    def replace(
        self, *, done: int, total: int | None, counters: dict[str, int], reports: list[dict[str, Any]]
    ) -> None:
        """Set the whole progress at once (a job split into units adds up theirs)."""
        self.done, self.total, self.counters = done, total, counters
        self.reports = reports[:REPORT_LIMIT]
        self._changed()

    def _changed(self) -> None:
        self._dirty = True
        if self._on_change is not None:
            self._on_change(self)

    async def flush(self) -> None:
        """Write the progress to the job's row now."""
        self._dirty = False
        if await self._service.save_progress(
            self.job.id, done=self.done, total=self.total, counters=self.counters, report=self.reports
        ):
            self._cancelled = True

    async def flush_forever(self) -> None:
        """Flush about once per interval until cancelled (run as a task)."""
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()


class JobRunner:
    """Claims queued jobs and runs their handlers, a few at a time."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        concurrency: int = 2,
        poll_interval: float = 0.5,
        orphan_check: float = STALE_AFTER.total_seconds() / 2,
    ) -> None:
        self._rt = runtime
        self._handlers: dict[str, JobHandler] = {}
        self._concurrency = asyncio.Semaphore(concurrency)
        self._poll = poll_interval
        self._owner = process_owner()
        self._running: dict[int, JobProgress] = {}
        #: Shares of other processes' split jobs this runner works on, by unit id claimed first.
        self._shares: dict[int, job_units.UnitWork] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._orphan_check = orphan_check
        self._watch_task: asyncio.Task[None] | None = None
        #: Kinds whose handler continues from the job's progress, so another process may take them over.
        self._resumable: set[str] = set()
        #: Set by :meth:`wake`: the pause between polls ends early.
        self._woken = asyncio.Event()

    def register(self, kind: str, handler: JobHandler, *, resumable: bool = False) -> None:
        """Run ``handler`` for jobs of ``kind``.

        :param resumable: whether running the handler again on an interrupted job of
            ``kind`` is safe (it continues from the job's progress, or repeats nothing
            harmful); such jobs left by a process that died or stopped are taken over.
        """
        self._handlers[kind] = handler
        if resumable:
            self._resumable.add(kind)
        else:
            self._resumable.discard(kind)

    def wake(self) -> None:
        """Look for queued jobs now rather than at the next poll: one was just queued."""
        self._woken.set()

    @property
    def kinds(self) -> list[str]:
        """The job kinds this runner can run."""
        return list(self._handlers)

    async def run(self, job: Job, on_change: Callable[[JobProgress], None] | None = None) -> Job:
        """Run one already claimed job to its end and record how it ended."""
        handler = self._handlers.get(job.kind)
        if handler is None:
            return await self._rt.jobs.finish(
                job.id, JobState.FAILED, error=f"Unknown job kind '{job.kind}'."
            )
        progress = JobProgress(job, self._rt.jobs, on_change)
        self._running[job.id] = progress
        flusher = asyncio.create_task(progress.flush_forever())
        log.info("job_started", job_id=job.id, kind=job.kind)
        state, error, result = JobState.SUCCEEDED, None, None
        try:
            result = await handler(self._rt, job, progress)
            if progress.cancelled:
                state = JobState.CANCELLED
        except JobCancelled:
            state = JobState.CANCELLED
        except OutreachError as exc:
            state, error = JobState.FAILED, str(exc)
        except Exception as exc:  # a bug in a handler or plugin must not kill the runner
            log.exception("job_crashed", job_id=job.id, kind=job.kind)
            state, error = JobState.FAILED, f"Unexpected error: {exc!r}. The log has the details."
        finally:
            if progress.interrupted:
                state, error = JobState.INTERRUPTED, "outreach stopped while this job ran; resume it."
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            self._running.pop(job.id, None)
        await progress.flush()
        finished = await self._rt.jobs.finish(job.id, state, error=error, result=result)
        log.info("job_finished", job_id=job.id, kind=job.kind, state=str(state))
        return finished

    async def run_now(self, job_id: int, on_change: Callable[[JobProgress], None] | None = None) -> Job:
        """Claim and run one queued job in the foreground (the CLI's way)."""
        job = await self._rt.jobs.get(job_id)
        claimed = await self._rt.jobs.claim_next(self._owner, kinds=[job.kind])
        while claimed is not None and claimed.id != job_id:
            # An older job of the same kind was queued first; run it too, in order.
            await self.run(claimed)
            claimed = await self._rt.jobs.claim_next(self._owner, kinds=[job.kind])
        if claimed is None:
            return await self._follow(job_id, on_change)
        return await self.run(claimed, on_change)

    async def _follow(self, job_id: int, on_change: Callable[[JobProgress], None] | None) -> Job:
        """Wait for a job that another process claimed first (a running server's worker).

        The progress it writes to the row is passed to ``on_change``; the wait ends when
        the job ends, or when the process running it died (the job is then interrupted
        and resumable, as at any start).
        """
        while True:
            job = await self._rt.jobs.get(job_id)
            if on_change is not None:
                on_change(JobProgress(job, self._rt.jobs))
            if job.state == JobState.QUEUED:
                claimed = await self._rt.jobs.claim_next(self._owner, kinds=[job.kind])
                if claimed is not None:
                    if claimed.id == job_id:
                        return await self.run(claimed, on_change)
                    await self.run(claimed)
                    continue
            elif job.state != JobState.RUNNING:
                return job
            elif job_id not in await self._rt.jobs.live(job.kind):
                await self._rt.jobs.mark_interrupted()
                return await self._rt.jobs.get(job_id)
            await asyncio.sleep(self._poll)

    def cancel(self, job_id: int) -> None:
        """Ask a job running in this process to stop."""
        if job_id in self._running:
            self._running[job_id].cancel()

    async def start(self) -> None:
        """Recover orphaned jobs and start claiming queued ones in the background."""
        interrupted = await self._rt.jobs.mark_interrupted()
        if interrupted:
            log.warning("jobs_interrupted", job_ids=interrupted)
        self._loop_task = asyncio.create_task(self._loop())
        self._watch_task = asyncio.create_task(self._watch_orphans(since=utcnow()))

    async def _watch_orphans(self, *, since: datetime) -> None:
        """Every ``orphan_check`` seconds, take over the resumable jobs other processes left.

        Only jobs interrupted since this runner started are taken: one interrupted while
        no worker ran waits for a person to resume it, as it always has.
        """
        while True:
            await asyncio.sleep(self._orphan_check)
            kinds = sorted(self._resumable & set(self._handlers))
            try:
                taken = await self._rt.jobs.take_over(kinds, since=since, actor=f"system:jobs:{self._owner}")
            except Exception:
                log.exception("job_take_over_failed")
                continue
            if taken:
                log.warning("jobs_taken_over", job_ids=taken)
                self.wake()

    async def _loop(self) -> None:
        while True:
            await self._concurrency.acquire()
            try:
                job = await self._rt.jobs.claim_next(self._owner, kinds=self.kinds)
            except Exception:
                log.exception("job_claim_failed")
                job = None
            if job is None and await self._start_share():
                continue
            if job is None:
                self._concurrency.release()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._woken.wait(), timeout=self._poll)
                self._woken.clear()
                continue
            task = asyncio.create_task(self._run_and_release(job))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _start_share(self) -> bool:
        """Claim a queued unit of a running split job and work on it in the background, if any."""
        kinds = [kind for kind in self.kinds if job_units.unit_handler(kind) is not None]
        busy = set(self._running) | {work.job_id for work in self._shares.values()}
        try:
            unit = await job_units.claim(self._owner, kinds=kinds, exclude=busy) if kinds else None
        except Exception:
            log.exception("job_unit_claim_failed")
            unit = None
        if unit is None:
            return False
        task = asyncio.create_task(self._share_and_release(unit))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _share_and_release(self, unit: job_units.JobUnit) -> None:
        work = job_units.UnitWork(unit.job_id, self._owner, first=unit)
        self._shares[unit.id] = work
        try:
            job = await self._rt.jobs.get(unit.job_id)
            handler = job_units.unit_handler(job.kind)
            if handler is not None:
                await handler(self._rt, job, work)
        except Exception:  # a failed unit is recorded on it; the runner goes on
            log.exception("job_unit_crashed", job_id=unit.job_id, unit_id=unit.id)
        finally:
            self._shares.pop(unit.id, None)
            self._concurrency.release()

    async def _run_and_release(self, job: Job) -> None:
        try:
            await self.run(job)
        finally:
            self._concurrency.release()

    async def stop(self) -> None:
        """Stop claiming, cancel running jobs, and wait for them to record their end."""
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch_task
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for progress in self._running.values():
            progress.interrupt()
        for work in self._shares.values():
            work.interrupt()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
