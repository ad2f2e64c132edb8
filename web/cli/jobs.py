"""``outreach jobs``: see, resume and cancel long-running work."""

from __future__ import annotations

import click

from outreach.kernel.runtime import Runtime

from .common import CLI_ACTOR, echo_json, with_runtime


@click.group("jobs")
def jobs() -> None:
    """See, resume and cancel jobs."""


@jobs.command("list")
@click.option("--state", help="Only jobs in this state.")
@click.option("--json", "as_json", is_flag=True)
@with_runtime
async def list_jobs(rt: Runtime, state: str | None, as_json: bool) -> None:
    """Recent jobs, newest first."""
    items = await rt.jobs.list(state=state)
    if as_json:
        echo_json(items)
        return
    for job in items:
        total = f"/{job.progress_total}" if job.progress_total else ""
        click.echo(
            f"{job.id:>5}  {job.kind:<10} {job.state:<12} {job.progress_done}{total}  {job.error or ''}"
        )


@jobs.command("show")
@click.argument("job_id", type=int)
@with_runtime
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
