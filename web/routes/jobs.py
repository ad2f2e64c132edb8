"""The jobs page: what ran, what runs, and its progress."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from outreach.web.rendering import render

from . import runtime


@get("/jobs", name="jobs", include_in_schema=False)
async def jobs_index(request: Request[Any, Any, Any]) -> Response[str]:
    """Recent jobs with their state and progress."""
    jobs = await runtime(request).jobs.list(limit=100)
    return render(request, "jobs/index.html", {"jobs": jobs}, block="jobs")
