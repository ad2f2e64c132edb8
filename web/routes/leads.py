"""The leads page: a filtered, sorted, paginated table reviewed row by row, and one lead's detail."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from litestar import Request, Response, get, post
from litestar.params import FromPath

from outreach.kernel.errors import InvalidInput, NotFound
from outreach.kernel.models import Lead
from outreach.kernel.services.analysis import submit_analysis
from outreach.kernel.services.lead_tags import all_tags, normalize_tag
from outreach.kernel.services.leads import SORTS, LeadQuery
from outreach.kernel.states import LeadState, deal_moves
from outreach.web.lead_hints import as_clause
from outreach.web.rendering import is_fragment_request, render

from . import WEB_ACTOR, RecordId, form, optional_int, runtime
from .first_lines import first_line_context

#: Review actions on one row: the state each one moves the lead to.
ACTIONS = {
    "approve": LeadState.APPROVED,
    "reject": LeadState.REJECTED,
    "undo": LeadState.PENDING_REVIEW,
}
#: Every action a row (or a selection) offers: the review moves, making ready, analyzing.
ROW_ACTIONS = (*ACTIONS, "ready", "ready-anyway", "analyze")
#: Sorts offered on the page, in menu order, with their labels.
SORT_CHOICES = {
    "id": "oldest first",
    "business_name": "name",
    "score": "score",
    "rating": "rating",
    "category": "category",
    "city": "city",
    "updated_at": "last change",
}
PER_PAGE_CHOICES = (25, 50, 100, 200)


def _optional_float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _tag_or_none(value: str | None) -> str | None:
    try:
        return normalize_tag(value) if value else None
    except InvalidInput:
        return None


def query_from(params: Mapping[str, Any]) -> LeadQuery:
    """A :class:`LeadQuery` from query-string or form values; anything unusable is ignored."""

    def text(name: str) -> str | None:
        return (str(params.get(name) or "")).strip()[:200] or None

    state = text("state")
    sort = text("sort") or "id"
    return LeadQuery(
        state=state if state in set(LeadState) else None,
        category=text("category"),
        location=text("location"),
        min_score=_optional_float(text("min_score")),
        text=text("q"),
        tag=_tag_or_none(text("tag")),
        sort=sort if sort in SORTS else "id",
        descending=text("desc") in ("1", "true", "on"),
        page=max(1, optional_int(text("page")) or 1),
        per_page=min(max(optional_int(text("per_page")) or 50, 1), 200),
    )


def filter_params(query: LeadQuery, **overrides: Any) -> dict[str, Any]:
    """The query-string values that reproduce ``query`` (defaults left out), with ``overrides``."""
    values: dict[str, Any] = {
        "state": query.state,
        "category": query.category,
        "location": query.location,
        "min_score": query.min_score,
        "q": query.text,
        "tag": query.tag,
        "sort": query.sort if query.sort != "id" else None,
        "desc": "1" if query.descending else None,
        "per_page": query.per_page if query.per_page != 50 else None,
        "page": query.page if query.page != 1 else None,
    }
    values.update(overrides)
    return {key: value for key, value in values.items() if value not in (None, "")}


async def results_context(request: Request[Any, Any, Any], query: LeadQuery) -> dict[str, Any]:
    """What the page needs: the page of leads, the values to rebuild its links, and (for a
    whole page, not a fragment) the categories and cities the filters suggest."""
    leads = runtime(request).leads
    # The page and the counts of every state at once (on PostgreSQL, on two connections).
    page, counts = await asyncio.gather(leads.list(query, brief=True), leads.count_by_state())
    whole = not is_fragment_request(request)
    return {
        "counts": counts,
        "categories": await leads.distinct_values("category") if whole else [],
        "cities": await leads.distinct_values("city") if whole else [],
        "tags": await all_tags() if whole else [],
        "page": page,
        "query": query,
        "params": filter_params(query),
        "filter_params": filter_params,
        "states": list(LeadState),
        "sorts": SORT_CHOICES,
        "per_page_choices": PER_PAGE_CHOICES,
        "summary": None,
    }


@get("/leads", name="leads", include_in_schema=False)
async def leads_index(request: Request[Any, Any, Any]) -> Response[str]:
    """The table of leads; an htmx request (filter, sort, page) gets only the results block."""
    query = query_from(request.query_params)
    context = await results_context(request, query)
    return render(request, "leads/index.html", context, block="results")


@get("/leads/{lead_id:int}", name="lead_detail", include_in_schema=False)
async def lead_detail(request: Request[Any, Any, Any], lead_id: RecordId) -> Response[str]:
    """Everything about one lead: a page of its own, or the side panel for htmx."""
    detail = await runtime(request).leads.detail(lead_id)
    return render(
        request,
        "leads/detail.html",
        {
            "detail": detail,
            "lead": detail.lead,
            "discovery_fields": DISCOVERY_FIELDS,
            "deal_moves": deal_moves(detail.lead.lifecycle_state),
            **first_line_context(request, detail.lead),
        },
        block="panel",
    )


@post("/leads/{lead_id:int}/{action:str}", name="lead_action", include_in_schema=False)
async def lead_action(
    request: Request[Any, Any, Any], lead_id: RecordId, action: FromPath[str]
) -> Response[str]:
    """Approve, reject, undo, make ready or analyze one lead, and answer with its new row."""
    if action not in ROW_ACTIONS:
        raise NotFound(
            f"'{action}' is not something a lead can do; use approve, reject, undo, ready, "
            "ready-anyway or analyze."
        )
    if action in ("ready", "ready-anyway"):
        lead = await make_ready(request, lead_id, override_hold=action == "ready-anyway")
        return render(request, "leads/_row.html", {"lead": lead, **await next_steps(request)})
    if action == "analyze":
        return await analyze_one(request, lead_id)
    data = await form(request)
    lead = await runtime(request).leads.transition(
        lead_id, ACTIONS[action], actor=WEB_ACTOR, expected_version=optional_int(data.get("version"))
    )
    return render(request, "leads/_row.html", {"lead": lead, **await next_steps(request)})


async def next_steps(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """What the "next steps" lines need after a row changed: the counts, and the page's filters
    (read from the address the page is at, so that a bulk action from there keeps them)."""
    page_query = parse_qs(urlsplit(request.headers.get("hx-current-url", "")).query)
    query = query_from({key: values[-1] for key, values in page_query.items()})
    return {"counts": await runtime(request).leads.count_by_state(), "params": filter_params(query)}


async def make_ready(request: Request[Any, Any, Any], lead_id: int, *, override_hold: bool = False) -> Lead:
    """Move one approved lead to ``ready_for_outreach``, or say why it cannot go.

    With ``override_hold``, a person overrides an enricher's hold (an undeliverable address).
    """
    rt = runtime(request)
    result = await rt.enrollment.mark_ready([lead_id], actor=WEB_ACTOR, override_hold=override_hold)
    if lead_id in result.skipped:
        lead = await rt.leads.get(lead_id)
        raise InvalidInput(
            f"{lead.business_name} was not made ready for outreach: {as_clause(result.skipped[lead_id])}."
        )
    return await rt.leads.get(lead_id)


async def analyze_one(request: Request[Any, Any, Any], lead_id: int) -> Response[str]:
    """Queue an analysis of one lead (a failed one is sent back to discovery first).

    The answer is the row, marked as queued, plus the analysis progress swapped into
    the page's progress area, which polls itself and refreshes the table at the end.
    """
    rt = runtime(request)
    lead = await rt.leads.get(lead_id)
    if lead.lifecycle_state == LeadState.FAILED:
        lead = await rt.leads.transition(
            lead_id, LeadState.DISCOVERED, actor=WEB_ACTOR, reason="analysis retried by a person"
        )
    elif lead.lifecycle_state != LeadState.DISCOVERED:
        raise InvalidInput(
            f"{lead.business_name} is {lead.lifecycle_state.replace('_', ' ')}; only discovered and "
            "failed leads are analyzed."
        )
    job = await submit_analysis(rt, [lead_id], actor=WEB_ACTOR)
    context = {"lead": lead, "queued_job": job, **await next_steps(request)}
    return render(request, "leads/_row.html", context, fragment=True)


#: Discovery fields the detail panel lists, with their labels.
DISCOVERY_FIELDS = (
    ("category", "Category"),
    ("location", "Address"),
    ("city", "City"),
    ("country_code", "Country"),
    ("phone", "Phone"),
    ("email", "Email"),
    ("contact_name", "Contact"),
    ("rating", "Rating"),
    ("review_count", "Reviews"),
    ("score", "Score"),
    ("discovery_source", "Found by"),
    ("discovery_confidence", "Confidence"),
    ("place_id", "Place id"),
)
