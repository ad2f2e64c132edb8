"""The dashboard: leads per state, the funnel, sends per day, opens, clicks, replies and bounces,
and the jobs running now."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from outreach.kernel.compliance import compliance_findings
from outreach.kernel.runtime import Runtime
from outreach.kernel.services import getting_started, stats
from outreach.kernel.services.getting_started import Checklist
from outreach.kernel.store.engine import read_transaction
from outreach.web.charts import daily_chart, funnel_chart
from outreach.web.rendering import render

from . import runtime, sending_problems

#: How many days the sends chart covers.
SEND_DAYS = 14


@get("/", name="dashboard", include_in_schema=False)
async def dashboard(request: Request[Any, Any, Any]) -> Response[str]:
    """The whole dashboard; htmx refreshes its figures (the ``live`` block) every few seconds."""
    rt = runtime(request)
    legal = compliance_findings(rt.settings, rt.mailboxes.all_settings())
    async with read_transaction():
        context = {
            "lead_counts": await rt.leads.count_by_state(),
            "email_counts": await rt.emails.count_by_state(),
            "funnel": funnel_chart(await stats.funnel()),
            "sends": daily_chart(await stats.sends_per_day(SEND_DAYS)),
            "engagement": await stats.engagement(),
            "compliance_problems": len(legal),
            "first_missing": legal[0] if legal else None,
            "checklist": await checklist(rt),
            "active_jobs": await rt.jobs.active(),
            "recent_jobs": await rt.jobs.list(limit=5),
            "paused_mailboxes": await rt.mailboxes.paused(),
        }
    return render(request, "dashboard.html", context, block="live")


async def checklist(rt: Runtime) -> Checklist:
    """The getting-started checklist, read from the data as it is now."""
    non_delivering = [
        name
        for name in rt.plugins.senders.names()
        if not getattr(rt.plugins.senders.get(name), "delivers", True)
    ]
    return getting_started.build_checklist(
        lead_counts=await rt.leads.count_by_state(),
        sequences=len(await rt.sequences.list()),
        sending_problems=sending_problems(rt),
        emails_queued=await getting_started.emails_queued(),
        real_emails_sent=await getting_started.real_emails_sent(non_delivering),
    )


@get("/healthz", name="health", include_in_schema=False)
async def health() -> dict[str, str]:
    """Liveness for scripts and tests."""
    return {"status": "ok"}
