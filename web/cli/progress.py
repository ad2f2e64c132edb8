"""Running a job in the foreground with a progress bar on stderr."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from outreach.kernel.job_runner import JobProgress
from outreach.kernel.models import Job
from outreach.kernel.runtime import Runtime


def _counters(progress: JobProgress) -> str:
    return ", ".join(f"{name} {n}" for name, n in progress.counters.items())


async def run_job_with_bar(rt: Runtime, job: Job, label: str) -> Job:
    """Run ``job`` now, drawing its progress; return it as it ended."""
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[counters]}"),
        console=console,
        transient=not console.is_terminal,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task(label, total=None, counters="")

        def update(progress: JobProgress) -> None:
            bar.update(task, completed=progress.done, total=progress.total, counters=_counters(progress))

        return await rt.runner.run_now(job.id, on_change=update)
