"""Jobs: the ``jobs`` table as a service (submit, read, cancel, resume, recover)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ..errors import NotFound, OutreachError
from ..models import Job
from ..store.engine import write_transaction
from ..store.mapping import job_from_row
from ..store.notify import JOBS, publish_in_transaction
from ..store.tables import JobRow
from . import audit
from .transitions import utcnow

#: A running job whose heartbeat is older than this belongs to a dead process.
STALE_AFTER = timedelta(seconds=60)


class JobState(StrEnum):
    """Where a job is."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


FINISHED = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


def process_owner() -> str:
    """``host:pid`` of this process, written on the jobs it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobService:
    """Creates jobs and changes their state; the runner executes them."""

    async def submit(self, kind: str, params: dict[str, Any], *, actor: str) -> Job:
        """Queue a new job of ``kind``."""
        async with write_transaction():
            rows = await JobRow.insert(JobRow(kind=kind, params=params)).returning(*JobRow.all_columns())
            job = job_from_row(rows[0])
            await audit.record("job", job.id, "submitted", actor, new={"kind": kind})
            # Delivered at commit: a worker in any process claims it without waiting for its poll.
            await publish_in_transaction(JOBS)
        return job

    async def get(self, job_id: int) -> Job:
        """One job; :class:`NotFound` if there is none."""
        row = await JobRow.select().where(JobRow.id == job_id).first()
        if row is None:
            raise NotFound(f"There is no job with id {job_id}; `outreach jobs list` shows them.")
        return job_from_row(row)

    async def list(self, *, state: str | None = None, limit: int = 50) -> list[Job]:
        """The most recent jobs, newest first."""
        query = JobRow.select()
        if state:
            query = query.where(JobRow.state == state)
        return [job_from_row(r) for r in await query.order_by(JobRow.id, ascending=False).limit(limit)]

    async def active(self) -> list[Job]:
        """Jobs queued or running."""
        rows = await JobRow.select().where(JobRow.state.is_in([JobState.QUEUED, JobState.RUNNING]))
        return [job_from_row(r) for r in rows]

    async def claim_next(self, owner: str, kinds: list[str] | None = None) -> Job | None:
        """Take the oldest queued job for this process, or None if there is none."""
        async with write_transaction():
            query = JobRow.select(JobRow.id).where(JobRow.state == JobState.QUEUED)
            if kinds is not None:
                query = query.where(JobRow.kind.is_in(kinds))
            candidate = await query.order_by(JobRow.id).first()
            if candidate is None:
                return None
            now = utcnow()
            rows = await (
                JobRow.update(
                    {
                        JobRow.state: JobState.RUNNING,
                        JobRow.owner: owner,
                        JobRow.started_at: now,
                        JobRow.heartbeat_at: now,
                        JobRow.updated_at: now,
                    }
                )
                .where((JobRow.id == candidate["id"]) & (JobRow.state == JobState.QUEUED))
                .returning(*JobRow.all_columns())
            )
        return job_from_row(rows[0]) if rows else None

    async def save_progress(
        self,
        job_id: int,
        *,
        done: int,
        total: int | None,
        counters: dict[str, int],
        report: list[dict[str, Any]],
    ) -> bool:
        """Write progress and heartbeat; return whether a person asked the job to stop."""
        now = utcnow()
        async with write_transaction():
            await JobRow.update(
                {
                    JobRow.progress_done: done,
                    JobRow.progress_total: total,
                    JobRow.counters: counters,
                    JobRow.report: report,
                    JobRow.heartbeat_at: now,
                    JobRow.updated_at: now,
                }
            ).where(JobRow.id == job_id)
        row = await JobRow.select(JobRow.cancel_requested).where(JobRow.id == job_id).first()
        return bool(row and row["cancel_requested"])

    async def finish(
        self, job_id: int, state: JobState, *, error: str | None = None, result: dict[str, Any] | None = None
    ) -> Job:
        """Record how a job ended."""
        now = utcnow()
        async with write_transaction():
            rows = await (
                JobRow.update(
                    {
                        JobRow.state: state,
                        JobRow.error: error,
                        JobRow.result: result or {},
                        JobRow.finished_at: now,
                        JobRow.updated_at: now,
                    }
                )
                .where(JobRow.id == job_id)
                .returning(*JobRow.all_columns())
            )
            await audit.record("job", job_id, f"finished:{state}", "system:jobs", new={"error": error})
        return job_from_row(rows[0])

    async def request_cancel(self, job_id: int, *, actor: str) -> Job:
        """Ask a job to stop: a queued one is cancelled at once, a running one at its next check."""
        job = await self.get(job_id)
        if job.state in FINISHED:
            raise OutreachError(f"Job {job_id} already ended ({job.state}); there is nothing to cancel.")
        async with write_transaction():
            values: dict[Any, Any] = {JobRow.cancel_requested: True, JobRow.updated_at: utcnow()}
            if job.state in (JobState.QUEUED, JobState.INTERRUPTED):
                values[JobRow.state] = JobState.CANCELLED
                values[JobRow.finished_at] = utcnow()
            await JobRow.update(values).where(JobRow.id == job_id)
            await audit.record("job", job_id, "cancel_requested", actor)
        return await self.get(job_id)

    async def resume(self, job_id: int, *, actor: str) -> Job:
        """Queue an interrupted or failed job again; its handler picks up where it stopped."""
        job = await self.get(job_id)
        if job.state not in (JobState.INTERRUPTED, JobState.FAILED):
            raise OutreachError(
                f"Job {job_id} is {job.state}; only interrupted or failed jobs can be resumed."
            )
        async with write_transaction():
            await JobRow.update(
                {
                    JobRow.state: JobState.QUEUED,
                    JobRow.error: None,
                    JobRow.cancel_requested: False,
                    JobRow.finished_at: None,
                    JobRow.updated_at: utcnow(),
                }
            ).where(JobRow.id == job_id)
            await audit.record("job", job_id, "resumed", actor, old={"state": job.state})
            await publish_in_transaction(JOBS)
        return await self.get(job_id)

    async def _running(self, kind: str | None = None) -> tuple[list[int], list[int]]:
        """Running jobs (of ``kind``), split into live ones and those whose process died.

        A job is orphaned when its owner is a dead process on this host, or when its
        heartbeat stopped longer than :data:`STALE_AFTER` ago (any host).
        """
        host = socket.gethostname()
        stale_before = utcnow() - STALE_AFTER
        query = JobRow.select(JobRow.id, JobRow.owner, JobRow.heartbeat_at).where(
            JobRow.state == JobState.RUNNING
        )
        if kind is not None:
            query = query.where(JobRow.kind == kind)
        live, orphaned = [], []
        for row in await query:
            owner_host, _, pid = (row["owner"] or "").rpartition(":")
            dead_here = owner_host == host and pid.isdigit() and not _pid_alive(int(pid))
            silent = row["heartbeat_at"] is None or row["heartbeat_at"] < stale_before
            (orphaned if dead_here or silent else live).append(row["id"])
        return live, orphaned

    async def live(self, kind: str) -> list[int]:
        """Ids of the jobs of ``kind`` that a living process is running now."""
        live, _ = await self._running(kind)
        return live

    async def mark_interrupted(self) -> list[int]:
        """Mark jobs whose process died while running them as ``interrupted``."""
        _, orphaned = await self._running()
        if orphaned:
            async with write_transaction():
                # Again under the write lock: another worker may have taken one over meanwhile.
                _, orphaned = await self._running()
                if not orphaned:
                    return []
                await JobRow.update(
                    {
                        JobRow.state: JobState.INTERRUPTED,
                        JobRow.error: "The process running this job stopped; resume it to continue.",
                        JobRow.updated_at: utcnow(),
                    }
                ).where(JobRow.id.is_in(orphaned) & (JobRow.state == JobState.RUNNING))
                await audit.record_many(
                    audit.audit_values("job", job_id, "interrupted", "system:jobs") for job_id in orphaned
                )
        return orphaned

    async def take_over(self, kinds: Iterable[str], *, since: datetime, actor: str) -> list[int]:
        """Queue again the jobs of ``kinds`` that another process left while this one ran; their ids.

        Jobs whose process died are marked ``interrupted`` first (:meth:`mark_interrupted`).
        Then every interrupted job of ``kinds`` that stopped at or after ``since`` (the
        moment this process's runner started) and that nobody asked to cancel is queued,
        as :meth:`resume` would; those interrupted before stay for a person to resume.
        """
        await self.mark_interrupted()
        kinds = list(kinds)
        if not kinds:
            return []
        async with write_transaction():
            rows = await (
                JobRow.update(
                    {
                        JobRow.state: JobState.QUEUED,
                        JobRow.error: None,
                        JobRow.finished_at: None,
                        JobRow.updated_at: utcnow(),
                    }
                )
                .where(
                    (JobRow.state == JobState.INTERRUPTED)
                    & JobRow.kind.is_in(kinds)
                    & (JobRow.updated_at >= since)
                    & (JobRow.cancel_requested == False)  # noqa: E712 (a column comparison)
                )
                .returning(JobRow.id)
            )
            taken = [row["id"] for row in rows]
            if taken:
                await audit.record_many(
                    audit.audit_values("job", job_id, "resumed", actor, old={"state": JobState.INTERRUPTED})
                    for job_id in taken
                )
                await publish_in_transaction(JOBS)
        return taken
