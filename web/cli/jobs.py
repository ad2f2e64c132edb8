"""``outreach jobs``: see, resume and cancel long-running work."""

from __future__ import annotations

import click

from outreach.kernel.runtime import Runtime

from .common import (
    CLI_ACTOR,
    Paging,
    echo_header,
    echo_json,
    echo_json_rows,
    paging_options,
    rows_of,
    with_runtime,
    with_store,
)

#: Jobs on a page when ``--per-page`` is not given: as many as ``jobs list`` always showed.
JOBS_PER_PAGE = 50

#: More jobs than a data directory will ever hold: the job service reads "every job" as a limit.
EVERY_JOB = 2**62


@click.group("jobs")
def jobs() -> None:
    """See, resume and cancel jobs."""


@jobs.command("list")
@click.option("--state", help="Only jobs in this state.")
@paging_options(JOBS_PER_PAGE)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_store
async def list_jobs(
    rt: Runtime, state: str | None, page: int | None, per_page: int | None, as_json: bool
) -> None:
    """Recent jobs, newest first: a page of them, or with --json every one."""
    paging = Paging(page, per_page, JOBS_PER_PAGE)
    if paging.every_row(as_json):
        # The service has no offset; jobs are started by people, so they number in the hundreds.
        await echo_json_rows(rows_of(await rt.jobs.list(state=state, limit=EVERY_JOB)))
        return
    items = paging.slice(await rt.jobs.list(state=state, limit=paging.number * paging.size))
    if as_json:
        echo_json(items)
        return
    echo_header(f"{'ID':>5}", f"{'KIND':<10} {'STATE':<12}", "PROGRESS", "ERROR")
    for job in items:
        total = f"/{job.progress_total}" if job.progress_total else ""
        click.echo(
            f"{job.id:>5}  {job.kind:<10} {job.state:<12} {job.progress_done}{total}  {job.error or ''}"
        )


@jobs.command("show")
@click.argument("job_id", type=int)
@with_store
async def show_job(rt: Runtime, job_id: int) -> None:
    """One job as JSON, with its report."""
    echo_json(await rt.jobs.get(job_id))


@jobs.command("resume")
@click.argument("job_id", type=int)
@with_runtime
async def resume_job(rt: Runtime, job_id: int) -> None:
    """Queue an interrupted or failed job again (``serve`` or ``worker`` runs it)."""
    job = await rt.jobs.resume(job_id, actor=CLI_ACTOR)
    click.echo(f"Job {job.id} is queued again.")


@jobs.command("cancel")
@click.argument("job_id", type=int)
@with_runtime
async def cancel_job(rt: Runtime, job_id: int) -> None:
    """Ask a job to stop."""
    job = await rt.jobs.request_cancel(job_id, actor=CLI_ACTOR)
    click.echo(f"Job {job.id}: cancel requested ({job.state}).")
