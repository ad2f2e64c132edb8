"""Discovery as a job: run a discovery source and store what it finds as leads.

A job names a primary source and, optionally, fallback sources. When a source cannot
go on (Google's ``/sorry/`` page, a quota, the network), the job says so in its report
and the next source continues the same search for the results still missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from ..contracts import DiscoveryQuery
from ..errors import DiscoveryError
from ..models import Job
from ..protocols import SplittableSource
from . import discovery_units, job_units

if TYPE_CHECKING:
    from ..job_runner import JobProgress
    from ..protocols import DiscoverySource
    from ..runtime import Runtime

log = structlog.get_logger("outreach.discovery")

JOB_KIND = "discover"
job_units.register_unit_handler(JOB_KIND, discovery_units.run_share)

#: Exception classes (by name, anywhere in the class's MRO) that mean a source's
#: network library could not reach its server. Matched by name so the kernel imports
#: neither httpx nor Playwright.
_CONNECTION_ERRORS = {
    "httpx": {"NetworkError", "TimeoutException", "ProxyError"},
    "playwright": {"TimeoutError"},
}


def discovery_params(source: str, query: DiscoveryQuery, fallback: Sequence[str] = ()) -> dict[str, Any]:
    """The parameters of a discovery job, as stored on its row."""
    params: dict[str, Any] = {"source": source, "query": msgspec.to_builtins(query)}
    if fallback:
        params["fallback"] = list(fallback)
    return params


def check_fallback(rt: Runtime, source: str, fallback: Sequence[str]) -> list[str]:
    """The fallback sources in order; a :class:`DiscoveryError` for a repeat or the primary.

    An unknown name is refused by the registry, with the names that are installed.
    """
    names: list[str] = []
    for name in fallback:
        rt.plugins.discovery_sources.get(name)
        if name == source:
            raise DiscoveryError(f"'{name}' is the source itself; a fallback must be another source.")
        if name in names:
            raise DiscoveryError(f"The fallback '{name}' is listed twice; name each source once.")
        names.append(name)
    return names


async def submit_discovery(
    rt: Runtime, source: str, query: DiscoveryQuery, *, actor: str, fallback: Sequence[str] = ()
) -> Job:
    """Check the sources exist and queue a discovery job for them.

    :param fallback: sources to continue with, in order, when the one before fails.
    """
    rt.plugins.discovery_sources.get(source)
    names = check_fallback(rt, source, fallback)
    if not query.query.strip():
        raise DiscoveryError("The search is empty; say what to look for (for example 'dentists').")
    if query.max_results is not None and query.max_results < 1:
        raise DiscoveryError("The maximum number of results must be at least 1.")
    return await rt.jobs.submit(JOB_KIND, discovery_params(source, query, names), actor=actor)


def is_connection_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says a server could not be reached (as opposed to a bug)."""
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    for cls in type(exc).__mro__:
        names = _CONNECTION_ERRORS.get(cls.__module__.partition(".")[0], set())
        if cls.__name__ in names:
            return True
    # Playwright raises one Error class for everything; a net:: code is the network.
    return type(exc).__module__.startswith("playwright") and "net::ERR_" in str(exc)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, DiscoveryError):
        return str(exc)
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"its server could not be reached ({type(exc).__name__}{': ' + detail if detail else ''})"


async def run_discovery(rt: Runtime, job: Job, progress: JobProgress) -> dict[str, Any]:
    """Job handler: stream each source's businesses into leads, counting what each became.

    Sources run in order while one fails and results are still missing; what earlier
    sources stored counts towards ``max_results``. The result counts ``created``,
    ``updated`` and ``unchanged`` leads and, for a job with fallbacks, what each source
    that ran found and why it failed: ``"sources": {name: {"found": n, "error": str | None}}``.
    """
    names = [job.params["source"], *job.params.get("fallback", [])]
    query = msgspec.convert(job.params["query"], DiscoveryQuery)
    outcomes = {"created": 0, "updated": 0, "unchanged": 0}
    report: dict[str, dict[str, Any]] = {}
    for position, name in enumerate(names):
        stored = sum(outcomes.values())
        remaining = None if query.max_results is None else query.max_results - stored
        if remaining is not None and remaining <= 0:
            break
        source = rt.plugins.discovery_sources.get(name)
        if len(names) > 1:
            progress.report(f"Searching with {name}.", source=name, stage="started")
        report[name] = {"found": 0, "error": None}
        try:
            await _run_source(
                rt, job, progress, source, query, remaining, outcomes, report[name], splittable=position == 0
            )
        except Exception as exc:
            if not (isinstance(exc, DiscoveryError) or is_connection_failure(exc)):
                raise
            if len(names) == 1 and isinstance(exc, DiscoveryError):
                raise
            reason = _reason(exc)
            report[name]["error"] = reason
            log.warning("discovery_source_failed", job_id=job.id, source=name, reason=reason)
            following = names[position + 1] if position + 1 < len(names) else None
            then = f" Continuing with {following}." if following else ""
            progress.report(f"{name} failed: {reason}{then}", source=name, stage="failed", reason=reason)
            continue
        break
    if report and all(entry["error"] for entry in report.values()):
        raise DiscoveryError(_all_failed(report, sum(outcomes.values())))
    # A job of one source keeps the result it always had; its source is in its params.
    return {**outcomes, "sources": report} if len(names) > 1 else outcomes


async def _run_source(
    rt: Runtime,
    job: Job,
    progress: JobProgress,
    source: DiscoverySource,
    query: DiscoveryQuery,
    remaining: int | None,
    outcomes: dict[str, int],
    entry: dict[str, Any],
    *,
    splittable: bool = False,
) -> None:
    """Store what one source yields, at most ``remaining`` businesses.

    :param splittable: whether a search of several units is shared with other workers
        (only the job's first source is: its units are what they claim).
    """
    search = msgspec.structs.replace(query, max_results=remaining)
    if splittable and isinstance(source, SplittableSource):
        units = await source.plan(search)
        if len(units) > 1:
            await discovery_units.run_units(rt, job, progress, source, search, units, outcomes, entry)
            return
    businesses = source.discover(search, progress)
    try:
        async for business in businesses:
            lead, outcome = await rt.leads.upsert_discovered(business, source.name)
            outcomes[outcome] += 1
            entry["found"] += 1
            progress.count(outcome)
            log.debug("lead_discovered", lead_id=lead.id, job_id=job.id, outcome=outcome, source=source.name)
            progress.check()
            if remaining is not None and entry["found"] >= remaining:
                break
    finally:
        # Closing the generator lets a source shut its browser when the job stops early.
        close = getattr(businesses, "aclose", None)
        if close is not None:
            await close()


def _all_failed(report: dict[str, dict[str, Any]], stored: int) -> str:
    reasons = "; ".join(f"{name}: {entry['error']}" for name, entry in report.items())
    kept = f" The {stored} result(s) found before are kept." if stored else ""
    return f"Every discovery source failed. {reasons}{kept}"
