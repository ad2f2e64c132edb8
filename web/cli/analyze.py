"""``outreach analyze``: learn about leads from their websites and check their addresses."""

from __future__ import annotations

import click

from outreach.kernel.runtime import Runtime
from outreach.kernel.services.analysis import submit_analysis

from .common import CLI_ACTOR, echo_json, fail, with_runtime
from .progress import run_job_with_bar


@click.command("analyze")
@click.argument("lead_ids", metavar="[IDS]...", nargs=-1, type=int)
@click.option("--all", "all_leads", is_flag=True, help="Every discovered lead (and any left half-analyzed).")
@click.option("--json", "as_json", is_flag=True, help="Print the job's outcome as JSON.")
@with_runtime
async def analyze(rt: Runtime, lead_ids: tuple[int, ...], all_leads: bool, as_json: bool) -> None:
    """Analyze leads: read each website, check each address, score them; they then await review."""
    job = await submit_analysis(rt, lead_ids, all=all_leads, actor=CLI_ACTOR)
    job = await run_job_with_bar(rt, job, "Analyzing")
    if as_json:
        echo_json(job)
    else:
        counters = job.counters
        click.echo(
            f"Analyzed {job.progress_done} lead(s): {counters.get('analyzed', 0)} ready for review, "
            f"{counters.get('failed', 0)} failed, {counters.get('skipped', 0)} skipped."
        )
        if counters.get("enricher_errors"):
            click.echo(
                f"{counters['enricher_errors']} enricher error(s); `outreach jobs show {job.id}` lists them."
            )
        for problem in job.report[:20]:
            click.echo(f"  {problem['message']}", err=True)
    if job.state != "succeeded":
        fail(job.error or f"The analysis ended {job.state}.")
