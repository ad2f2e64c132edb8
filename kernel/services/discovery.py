"""Discovery as a job: run a discovery source and store what it finds as leads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from ..contracts import DiscoveryQuery
from ..errors import DiscoveryError
from ..models import Job

if TYPE_CHECKING:
    from ..job_runner import JobProgress
    from ..runtime import Runtime

log = structlog.get_logger("outreach.discovery")

JOB_KIND = "discover"


def discovery_params(source: str, query: DiscoveryQuery) -> dict[str, Any]:
    """The parameters of a discovery job, as stored on its row."""
    return {"source": source, "query": msgspec.to_builtins(query)}


async def submit_discovery(rt: Runtime, source: str, query: DiscoveryQuery, *, actor: str) -> Job:
    """Check the source exists and queue a discovery job for it."""
    rt.plugins.discovery_sources.get(source)
    if not query.query.strip():
        raise DiscoveryError("The search is empty; say what to look for (for example 'dentists').")
    if query.max_results is not None and query.max_results < 1:
        raise DiscoveryError("The maximum number of results must be at least 1.")
    return await rt.jobs.submit(JOB_KIND, discovery_params(source, query), actor=actor)


async def run_discovery(rt: Runtime, job: Job, progress: JobProgress) -> dict[str, Any]:
    """Job handler: stream the source's businesses into leads, counting what each became."""
    source = rt.plugins.discovery_sources.get(job.params["source"])
    query = msgspec.convert(job.params["query"], DiscoveryQuery)
    outcomes = {"created": 0, "updated": 0, "unchanged": 0}
    async for business in source.discover(query, progress):
        lead, outcome = await rt.leads.upsert_discovered(business, source.name)
        outcomes[outcome] += 1
        progress.count(outcome)
        log.debug("lead_discovered", lead_id=lead.id, job_id=job.id, outcome=outcome)
        progress.check()
    return outcomes
