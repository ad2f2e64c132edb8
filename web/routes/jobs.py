"""Jobs in the browser: the list, one job's live progress, cancel and resume."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Redirect

from outreach.kernel.models import Job
from outreach.kernel.services.jobs import FINISHED
from outreach.web.rendering import is_fragment_request, render

from . import JOB_FINISHED_EVENT, WEB_ACTOR, RecordId, runtime


def _job_response(request: Request[Any, Any, Any], job: Job) -> Response[Any]:
    """One job: its page, or (for htmx) its self-polling partial.

    When a polled job has ended, the answer fires ``job-finished`` so lists on the page
    (leads, counts) refresh themselves once.
    """
    headers = {"HX-Trigger": JOB_FINISHED_EVENT} if job.state in FINISHED else None
    return render(request, "jobs/detail.html", {"job": job}, block="job", headers=headers)


def _after_post(request: Request[Any, Any, Any], job: Job) -> Response[Any]:
    """htmx gets the new partial; a plain form post goes back to the job's page."""
    if is_fragment_request(request):
        return _job_response(request, job)
    return Redirect(f"/jobs/{job.id}", status_code=303)


@get("/jobs", name="jobs", include_in_schema=False)
async def jobs_index(request: Request[Any, Any, Any]) -> Response[Any]:
    """Recent jobs with their state and progress."""
    jobs = await runtime(request).jobs.list(limit=100)
    return render(request, "jobs/index.html", {"jobs": jobs}, block="jobs")


@get("/jobs/{job_id:int}", name="job_detail", include_in_schema=False)
async def job_detail(request: Request[Any, Any, Any], job_id: RecordId) -> Response[Any]:
    """One job with its counters and report; htmx polls its partial while it runs."""
    return _job_response(request, await runtime(request).jobs.get(job_id))


@post("/jobs/{job_id:int}/cancel", name="job_cancel", include_in_schema=False)
async def job_cancel(request: Request[Any, Any, Any], job_id: RecordId) -> Response[Any]:
    """Ask a job to stop; a running one stops at its next check (the partial keeps polling)."""
    rt = runtime(request)
    job = await rt.jobs.request_cancel(job_id, actor=WEB_ACTOR)
    rt.runner.cancel(job_id)
    return _after_post(request, job)


@post("/jobs/{job_id:int}/resume", name="job_resume", include_in_schema=False)
async def job_resume(request: Request[Any, Any, Any], job_id: RecordId) -> Response[Any]:
    """Queue an interrupted or failed job again."""
    job = await runtime(request).jobs.resume(job_id, actor=WEB_ACTOR)
    return _after_post(request, job)
