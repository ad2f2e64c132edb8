"""The dashboard: how many leads and emails are in each state."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from outreach.web.rendering import render

from . import runtime


@get("/", name="dashboard", include_in_schema=False)
async def dashboard(request: Request[Any, Any, Any]) -> Response[str]:
    """Counts per lead state and per email state, and recent jobs."""
    rt = runtime(request)
    return render(
        request,
        "dashboard.html",
        {
            "lead_counts": await rt.leads.count_by_state(),
            "email_counts": await rt.emails.count_by_state(),
            "jobs": await rt.jobs.list(limit=5),
        },
        block="counts",
    )


@get("/healthz", name="health", include_in_schema=False)
async def health() -> dict[str, str]:
    """Liveness for scripts and tests."""
    return {"status": "ok"}
