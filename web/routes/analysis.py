"""Analysis in the browser: start it from the leads page, watch it, and see what it learned about a lead."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from outreach.kernel.errors import NotFound
from outreach.kernel.services.analysis import JOB_KIND, submit_analysis
from outreach.kernel.services.jobs import FINISHED, JobState
from outreach.web.rendering import is_fragment_request, render

from . import JOB_FINISHED_EVENT, WEB_ACTOR, optional_int, runtime

#: States in which an analysis no longer moves (an interrupted one waits for `jobs resume`).
ENDED = FINISHED | {JobState.INTERRUPTED}


@post("/leads/analyze", name="leads_analyze", include_in_schema=False)
async def analyze_leads(request: Request[Any, Any, Any]) -> Response[Any]:
    """Queue an analysis of the leads named in the form (``ids``), or of every waiting lead."""
    form = await request.form()
    ids = [i for i in (optional_int(str(v)) for v in form.getall("ids", [])) if i is not None]
    job = await submit_analysis(runtime(request), ids, all=not ids, actor=WEB_ACTOR)
    if not is_fragment_request(request):
        return Redirect(f"/leads/analyze/{job.id}", status_code=303)
    context = {"job": job, "finished": False}
    return render(request, "leads/analysis.html", context, block="progress", fragment=True)


@get("/leads/analyze/{job_id:int}", name="analysis_progress", include_in_schema=False)
async def analysis_progress(request: Request[Any, Any, Any], job_id: FromPath[int]) -> Response[str]:
    """How far an analysis got; its fragment polls itself until the job ends."""
    job = await runtime(request).jobs.get(job_id)
    if job.kind != JOB_KIND:
        raise NotFound(f"Job {job_id} is not an analysis; the Jobs page shows it.")
    finished = job.state in ENDED
    headers = {"HX-Trigger": JOB_FINISHED_EVENT} if finished else None
    context = {"job": job, "finished": finished}
    return render(request, "leads/analysis.html", context, block="progress", headers=headers)


@get("/leads/{lead_id:int}/enrichment", name="lead_enrichment", include_in_schema=False)
async def lead_enrichment(request: Request[Any, Any, Any], lead_id: FromPath[int]) -> Response[str]:
    """What analysis learned about one lead."""
    lead = await runtime(request).leads.get(lead_id)
    return render(request, "leads/enrichment.html", {"lead": lead}, block="enrichment")
