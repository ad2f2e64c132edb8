"""The dashboard: leads per state, the funnel, sends per day, opens, clicks, replies and bounces,
and the jobs running now."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from outreach.kernel.services import stats
from outreach.kernel.store.engine import read_transaction
from outreach.web.charts import daily_chart, funnel_chart
from outreach.web.rendering import render

from . import runtime
from .compliance import problems

#: How many days the sends chart covers.
SEND_DAYS = 14


@get("/", name="dashboard", include_in_schema=False)
async def dashboard(request: Request[Any, Any, Any]) -> Response[str]:
    """The whole dashboard; htmx refreshes its figures (the ``live`` block) every few seconds."""
    rt = runtime(request)
    async with read_transaction():
        context = {
            "lead_counts": await rt.leads.count_by_state(),
            "email_counts": await rt.emails.count_by_state(),
            "funnel": funnel_chart(await stats.funnel()),
            "sends": daily_chart(await stats.sends_per_day(SEND_DAYS)),
            "engagement": await stats.engagement(),
            "compliance_problems": len(problems(rt)),
            "active_jobs": await rt.jobs.active(),
            "recent_jobs": await rt.jobs.list(limit=5),
        }
    return render(request, "dashboard.html", context, block="live")


@get("/healthz", name="health", include_in_schema=False)
async def health() -> dict[str, str]:
    """Liveness for scripts and tests."""
    return {"status": "ok"}
