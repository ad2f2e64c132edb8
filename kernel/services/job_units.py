"""Units of a splittable job: planned by the job's handler, claimed by any worker.

A job whose work divides (a map grid's cells) writes its units to ``job_units``. The
process running the job works through them, and every other worker's runner, when
idle, claims queued units of running jobs and works on them too. Each unit carries
its own progress and heartbeat; the job's progress is the sum of its units'. A unit
whose process died goes back to the queue for another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from enum import StrEnum
from typing import Any

import msgspec
import structlog

from ..errors import JobCancelled
from ..store.engine import write_transaction
from ..store.mapping import _json
from ..store.tables import JobRow, JobUnitRow
from .jobs import STALE_AFTER, JobState
from .transitions import utcnow

log = structlog.get_logger("outreach.jobs")

#: How many report lines one unit keeps.
UNIT_REPORT_LIMIT = 100


class UnitState(StrEnum):
    """Where a unit is."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    #: Not worked on: the job had enough results, or a person cancelled it.
    SKIPPED = "skipped"


class JobUnit(msgspec.Struct, kw_only=True):
    """One unit of a job, as stored."""

    id: int
    job_id: int
    position: int
    unit: dict[str, Any]
    state: str
    owner: str | None = None
    attempts: int = 0
    done: int = 0
    total: int | None = None
    counters: dict[str, int] = {}
    report: list[dict[str, Any]] = []
    error: str | None = None


class UnitsSummary(msgspec.Struct, kw_only=True):
    """A job's units added up: their progress, counters, reports and states."""

    done: int = 0
    total: int | None = None
    counters: dict[str, int] = {}
    report: list[dict[str, Any]] = []
    states: dict[str, int] = {}
    errors: list[str] = []

    @property
    def unfinished(self) -> int:
        """Units queued or running."""
        return self.states.get(UnitState.QUEUED, 0) + self.states.get(UnitState.RUNNING, 0)


def _unit(row: dict[str, Any]) -> JobUnit:
    return JobUnit(
        id=row["id"],
        job_id=row["job"],
        position=row["position"],
        unit=_json(row.get("unit"), {}),
        state=row["state"],
        owner=row.get("owner"),
        attempts=row.get("attempts") or 0,
        done=row.get("progress_done") or 0,
        total=row.get("progress_total"),
        counters=_json(row.get("counters"), {}),
        report=_json(row.get("report"), []),
        error=row.get("error"),
    )


async def plan(job_id: int, units: Iterable[dict[str, Any]]) -> None:
    """Write a job's units, unless it has them (a resumed job keeps its own).

    A resumed job's units that failed or were skipped are queued again; those done stay done.
    """
    async with write_transaction():
        if await JobUnitRow.count().where(JobUnitRow.job == job_id):
            await JobUnitRow.update(
                {JobUnitRow.state: UnitState.QUEUED, JobUnitRow.error: None, JobUnitRow.updated_at: utcnow()}
            ).where(
                (JobUnitRow.job == job_id) & JobUnitRow.state.is_in([UnitState.FAILED, UnitState.SKIPPED])
            )
            return
        rows = [JobUnitRow(job=job_id, position=i, unit=unit) for i, unit in enumerate(units)]
        if rows:
            await JobUnitRow.insert(*rows)


async def units_of(job_id: int) -> list[JobUnit]:
    """A job's units in the order they were planned."""
    rows = await JobUnitRow.select().where(JobUnitRow.job == job_id).order_by(JobUnitRow.position)
    return [_unit(row) for row in rows]


async def summary(job_id: int) -> UnitsSummary:
    """A job's units added up."""
    result = UnitsSummary(counters={}, report=[], states={}, errors=[])
    counters: Counter[str] = Counter()
    states: Counter[str] = Counter()
    for unit in await units_of(job_id):
        result.done += unit.done
        if unit.total is not None:
            result.total = (result.total or 0) + unit.total
        counters.update(unit.counters)
        states[unit.state] += 1
        result.report.extend(unit.report)
        if unit.state == UnitState.FAILED and unit.error:
            result.errors.append(unit.error)
    result.counters, result.states = dict(counters), dict(states)
    return result


def _gone(owner: str | None, heartbeat: Any, stale_before: Any) -> bool:
    """Whether the process that owns a running unit died: dead here, or silent too long."""
    host, _, pid = (owner or "").rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
    return heartbeat is None or heartbeat < stale_before


async def requeue_orphans(job_id: int | None = None) -> list[int]:
    """Queue again the running units whose process died; their ids."""
    query = JobUnitRow.select(JobUnitRow.id, JobUnitRow.owner, JobUnitRow.heartbeat_at).where(
        JobUnitRow.state == UnitState.RUNNING
    )
    if job_id is not None:
        query = query.where(JobUnitRow.job == job_id)
    stale_before = utcnow() - STALE_AFTER
    orphans = [row for row in await query if _gone(row["owner"], row["heartbeat_at"], stale_before)]
    requeued = []
    for row in orphans:
        async with write_transaction():
            # The owner is part of the condition: a unit taken again meanwhile is left alone.
            changed = await (
                JobUnitRow.update({JobUnitRow.state: UnitState.QUEUED, JobUnitRow.updated_at: utcnow()})
                .where(
                    (JobUnitRow.id == row["id"])
                    & (JobUnitRow.state == UnitState.RUNNING)
                    & (JobUnitRow.owner == row["owner"])
                )
                .returning(JobUnitRow.id)
            )
        if changed:
            requeued.append(row["id"])
    if requeued:
        log.warning("job_units_requeued", unit_ids=requeued, owners=sorted({r["owner"] for r in orphans}))
    return requeued


async def claim(
    owner: str, *, job_id: int | None = None, kinds: list[str] | None = None, exclude: Iterable[int] = ()
) -> JobUnit | None:
    """Take the next queued unit of ``job_id`` (or of any running job of ``kinds``), or None.

    :param exclude: jobs not to take units of (those this process already runs).
    """
    await requeue_orphans(job_id)
    async with write_transaction():
        if job_id is not None:
            jobs = [job_id]
        else:
            query = JobRow.select(JobRow.id).where(
                (JobRow.state == JobState.RUNNING) & (JobRow.cancel_requested == False)  # noqa: E712
            )
            if kinds is not None:
                query = query.where(JobRow.kind.is_in(kinds))
            skip = set(exclude)
            jobs = [row["id"] for row in await query if row["id"] not in skip]
            if not jobs:
                return None
        candidate = await (
            JobUnitRow.select(JobUnitRow.id)
            .where((JobUnitRow.state == UnitState.QUEUED) & JobUnitRow.job.is_in(jobs))
            .order_by(JobUnitRow.job, JobUnitRow.position)
            .first()
        )
        if candidate is None:
            return None
        now = utcnow()
        rows = await (
            JobUnitRow.update(
                {
                    JobUnitRow.state: UnitState.RUNNING,
                    JobUnitRow.owner: owner,
                    JobUnitRow.heartbeat_at: now,
                    JobUnitRow.attempts: JobUnitRow.attempts + 1,
                    JobUnitRow.updated_at: now,
                }
            )
            .where((JobUnitRow.id == candidate["id"]) & (JobUnitRow.state == UnitState.QUEUED))
            .returning(*JobUnitRow.all_columns())
        )
    return _unit(rows[0]) if rows else None


async def skip_queued(job_id: int) -> None:
    """Mark a job's queued units as skipped (the job has enough, or was cancelled)."""
    async with write_transaction():
        await JobUnitRow.update({JobUnitRow.state: UnitState.SKIPPED, JobUnitRow.updated_at: utcnow()}).where(
            (JobUnitRow.job == job_id) & (JobUnitRow.state == UnitState.QUEUED)
        )


class UnitWork:
    """One process's share of a job's units: an async iterator of the units it claims in turn.

    It is also the :class:`~outreach.kernel.protocols.Progress` of the unit in hand:
    what is counted between two units belongs to the first. Taking the next unit
    records the one before as done. A background task (:meth:`flush_forever`) writes
    the unit's progress and heartbeat and learns whether to stop: the job was
    cancelled, it stopped running, or the unit was given to another process.

    :param first: a unit already claimed, worked on first.
    :param enough: asked before each claim; True stops the share (the job has enough).
    :param stopping: a reason to stop known in this process (``"cancelled"``, ``"interrupted"``).
    """

    def __init__(
        self,
        job_id: int,
        owner: str,
        *,
        first: JobUnit | None = None,
        enough: Callable[[], Awaitable[bool]] | None = None,
        stopping: Callable[[], str | None] | None = None,
        flush_interval: float = 1.0,
    ) -> None:
        self.job_id = job_id
        self.owner = owner
        self.current: JobUnit | None = None
        self.worked: list[int] = []
        self._first = first
        self._enough = enough
        self._stopping = stopping
        self._interval = flush_interval
        self._reason: str | None = None

    # -- the async iterator of units --------------------------------------------------

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self

    async def __anext__(self) -> dict[str, Any]:
        await self.close(UnitState.DONE)
        if self.stop_reason is not None or (self._enough is not None and await self._enough()):
            raise StopAsyncIteration
        unit, self._first = self._first, None
        if unit is None:
            unit = await claim(self.owner, job_id=self.job_id)
        if unit is None:
            raise StopAsyncIteration
        unit.done, unit.total, unit.counters, unit.report = 0, None, {}, []
        self.current = unit
        self.worked.append(unit.id)
        return unit.unit

    # -- the Progress protocol, for the unit in hand ----------------------------------

    def set_total(self, total: int | None) -> None:
        """Say how many units of work the unit in hand has."""
        if self.current is not None:
            self.current.total = total

    def advance(self, n: int = 1) -> None:
        """Count ``n`` units of work as done."""
        if self.current is not None:
            self.current.done += n

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to the unit's counter ``name``."""
        if self.current is not None:
            self.current.counters[name] = self.current.counters.get(name, 0) + n

    def report(self, message: str, *, line: int | None = None, **fields: Any) -> None:
        """Record a problem for the person running the job."""
        if self.current is None:
            return
        self.count("problems")
        if len(self.current.report) < UNIT_REPORT_LIMIT:
            entry: dict[str, Any] = {"message": message}
            if line is not None:
                entry["line"] = line
            self.current.report.append({**entry, **fields})

    @property
    def cancelled(self) -> bool:
        """Whether the work should stop (the job was cancelled or stopped, or the unit lost)."""
        return self.stop_reason is not None

    @property
    def stop_reason(self) -> str | None:
        """Why the work should stop, or None."""
        if self._reason is not None:
            return self._reason
        return self._stopping() if self._stopping is not None else None

    def check(self) -> None:
        """Raise :class:`JobCancelled` if the work should stop."""
        if self.cancelled:
            raise JobCancelled(f"The units of job {self.job_id} stopped ({self.stop_reason}).")

    def interrupt(self) -> None:
        """Stop because this process is shutting down; the unit in hand goes back to the queue."""
        self._reason = self._reason or "interrupted"

    # -- the store side ---------------------------------------------------------------

    async def flush(self) -> None:
        """Write the progress and heartbeat of the unit in hand; learn whether to stop."""
        unit = self.current
        if unit is None:
            return
        now = utcnow()
        async with write_transaction():
            written = await (
                JobUnitRow.update(self._values(unit, heartbeat_at=now))
                .where((JobUnitRow.id == unit.id) & (JobUnitRow.owner == self.owner))
                .returning(JobUnitRow.state)
            )
        job = (
            await JobRow.select(JobRow.state, JobRow.cancel_requested).where(JobRow.id == self.job_id).first()
        )
        if not written or written[0]["state"] != UnitState.RUNNING:
            self._reason = self._reason or "lost"
        elif job is None or job["cancel_requested"]:
            self._reason = self._reason or "cancelled"
        elif job["state"] != JobState.RUNNING:
            self._reason = self._reason or "stopped"

    async def flush_forever(self) -> None:
        """Flush about once per interval (run as a task)."""
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except Exception:  # a busy store must not end the work; the next flush tries again
                log.exception("job_unit_flush_failed", job_id=self.job_id)

    async def close(self, state: UnitState, error: str | None = None) -> None:
        """Record how the unit in hand ended; a share that must stop says so instead."""
        unit, self.current = self.current, None
        if unit is None:
            return
        reason = self.stop_reason
        if reason == "lost":
            return
        if reason == "cancelled":
            state = UnitState.SKIPPED
        elif reason is not None:
            state = UnitState.QUEUED  # the job stopped running: it resumes with this unit
        values = self._values(unit, state=state, error=error)
        async with write_transaction():
            await JobUnitRow.update(values).where(
                (JobUnitRow.id == unit.id) & (JobUnitRow.owner == self.owner)
            )
        log.info("job_unit_finished", job_id=self.job_id, unit_id=unit.id, state=str(state))

    async def put_back_untaken(self) -> None:
        """Record the unit claimed first if the source never took it (it stopped before).

        It is skipped when the work stopped for good (cancelled, or enough found) and
        queued again when the job only stopped running (it resumes with it).
        """
        unit, self._first = self._first, None
        reason = self.stop_reason
        if unit is None or reason == "lost":
            return
        state = UnitState.QUEUED if reason in ("interrupted", "stopped") else UnitState.SKIPPED
        async with write_transaction():
            await JobUnitRow.update({JobUnitRow.state: state, JobUnitRow.updated_at: utcnow()}).where(
                (JobUnitRow.id == unit.id) & (JobUnitRow.owner == self.owner)
            )

    @staticmethod
    def _values(unit: JobUnit, **extra: Any) -> dict[Any, Any]:
        columns = {name: JobUnitRow._meta.get_column_by_name(name) for name in extra}
        values: dict[Any, Any] = {
            JobUnitRow.progress_done: unit.done,
            JobUnitRow.progress_total: unit.total,
            JobUnitRow.counters: unit.counters,
            JobUnitRow.report: unit.report,
            JobUnitRow.updated_at: utcnow(),
        }
        values.update({columns[name]: value for name, value in extra.items()})
        return values


async def work_through(work: UnitWork, body: Callable[[UnitWork], Awaitable[None]]) -> None:
    """Run ``body`` over a share of units, flushing as it goes and recording how each ended.

    An error ends the unit in hand as failed (its message kept on the unit) and is raised.
    """
    flusher = asyncio.create_task(work.flush_forever())
    try:
        await body(work)
    except JobCancelled:
        await work.close(UnitState.SKIPPED)
    except asyncio.CancelledError:
        work.interrupt()
        await work.close(UnitState.QUEUED)
        raise
    except BaseException as exc:
        await work.close(UnitState.FAILED, error=str(exc) or type(exc).__name__)
        raise
    else:
        await work.close(UnitState.DONE)
    finally:
        flusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flusher
        await work.put_back_untaken()


#: Unit handlers by job kind: what an idle worker runs on the units it claims of such a job.
UnitHandler = Callable[[Any, Any, UnitWork], Awaitable[None]]
_UNIT_HANDLERS: dict[str, UnitHandler] = {}


def register_unit_handler(kind: str, handler: UnitHandler) -> None:
    """Let idle workers claim the units of running jobs of ``kind`` and run ``handler`` on them.

    ``handler(runtime, job, work)`` gets the job and a :class:`UnitWork` holding its first
    claimed unit; it runs it under :func:`work_through`.
    """
    _UNIT_HANDLERS[kind] = handler


def unit_handler(kind: str) -> UnitHandler | None:
    """The unit handler of ``kind``, if its jobs split into units."""
    return _UNIT_HANDLERS.get(kind)
