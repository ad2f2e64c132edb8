"""The Discover page: a search form that queues a discovery job, then its live progress.

The form names a source and, as checkboxes, the sources to go on with if it fails
(in the order listed); the kernel refuses an unknown name, a repeat or the source itself.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from outreach.kernel.contracts import DiscoveryQuery
from outreach.kernel.errors import DiscoveryError, NotFound
from outreach.kernel.services.discovery import JOB_KIND, submit_discovery
from outreach.kernel.services.jobs import FINISHED
from outreach.web.rendering import is_fragment_request, render

from . import WEB_ACTOR, form, optional_int, runtime

DEFAULT_SOURCE = "google_maps"


def _sources(request: Request[Any, Any, Any]) -> list[dict[str, str | None]]:
    """The registered discovery sources, with the label each gives itself and what stops it, if
    anything (a source may say so through an optional ``readiness()``: no browser, no key)."""
    found: list[dict[str, str | None]] = []
    for source in runtime(request).plugins.discovery_sources:
        readiness = getattr(source, "readiness", None)
        found.append(
            {
                "name": source.name,
                "label": getattr(source, "label", source.name),
                "problem": readiness() if callable(readiness) else None,
            }
        )
    return found


def _context(
    request: Request[Any, Any, Any], job: Any = None, values: dict[str, Any] | None = None
) -> dict[str, Any]:
    sources = _sources(request)
    names = [s["name"] for s in sources]
    default = DEFAULT_SOURCE if DEFAULT_SOURCE in names else (names[0] if names else "")
    defaults = {"source": default, "fallback": [], "query": "", "near": "", "max": "", "lang": "en"}
    return {
        "sources": sources,
        "values": {**defaults, **(values or {})},
        "job": job,
        "finished": job is not None and job.state in FINISHED,
    }


@get("/discover", name="discover", include_in_schema=False)
async def discover_index(request: Request[Any, Any, Any]) -> Response[str]:
    """The search form."""
    return render(request, "discover/index.html", _context(request))


@post("/discover", name="discover_submit", include_in_schema=False, status_code=200)
async def discover_submit(request: Request[Any, Any, Any]) -> Response[Any]:
    """Queue a discovery job; htmx gets its progress block, a plain form is sent to the job's page."""
    submitted = await request.form()
    data: dict[str, Any] = await form(request)
    fallback = [str(name).strip() for name in submitted.getall("fallback", []) if str(name).strip()]
    max_text = (data.get("max") or "").strip()
    if max_text and optional_int(max_text) is None:
        raise DiscoveryError(f"'{max_text}' is not a number; give the most results to find, such as 50.")
    query = DiscoveryQuery(
        query=(data.get("query") or "").strip(),
        location=(data.get("near") or "").strip() or None,
        max_results=optional_int(max_text),
        language=(data.get("lang") or "").strip() or None,
    )
    source = data.get("source") or DEFAULT_SOURCE
    job = await submit_discovery(runtime(request), source, query, actor=WEB_ACTOR, fallback=fallback)
    if not is_fragment_request(request):
        return Redirect(f"/discover/{job.id}", status_code=303)
    context = _context(request, job, {**data, "fallback": fallback})
    return render(request, "discover/index.html", context, block="progress", fragment=True)


@get("/discover/{job_id:int}", name="discover_job", include_in_schema=False)
async def discover_job(request: Request[Any, Any, Any], job_id: FromPath[int]) -> Response[str]:
    """A discovery job's progress; htmx polls the progress block until the job ends."""
    job = await runtime(request).jobs.get(job_id)
    if job.kind != JOB_KIND:
        raise NotFound(f"Job {job_id} is not a discovery; the Jobs page lists every job.")
    values = {
        "source": job.params.get("source", DEFAULT_SOURCE),
        "fallback": job.params.get("fallback", []),
        "query": job.params.get("query", {}).get("query", ""),
        "near": job.params.get("query", {}).get("location") or "",
        "max": str(job.params.get("query", {}).get("max_results") or ""),
        "lang": job.params.get("query", {}).get("language") or "",
    }
    return render(request, "discover/index.html", _context(request, job, values), block="progress")
