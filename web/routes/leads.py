"""The leads page: a filtered, paginated table where each row is approved or rejected in place."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath

from outreach.kernel.errors import NotFound
from outreach.kernel.services.leads import SORTS, LeadQuery
from outreach.kernel.states import LeadState
from outreach.web.rendering import render

from . import WEB_ACTOR, form, optional_int, runtime

#: Review actions on one row: the state each one moves the lead to.
ACTIONS = {
    "approve": LeadState.APPROVED,
    "reject": LeadState.REJECTED,
    "undo": LeadState.PENDING_REVIEW,
}


def _query(request: Request[Any, Any, Any]) -> LeadQuery:
    params = request.query_params
    state = params.get("state") or None
    sort = params.get("sort") or "id"
    return LeadQuery(
        state=state if state in set(LeadState) else None,
        sort=sort if sort in SORTS else "id",
        descending=params.get("desc") == "1",
        text=(params.get("q") or "").strip() or None,
        page=optional_int(params.get("page")) or 1,
        per_page=min(optional_int(params.get("per_page")) or 50, 200),
    )


@get("/leads", name="leads", include_in_schema=False)
async def leads_index(request: Request[Any, Any, Any]) -> Response[str]:
    """The table of leads; an htmx request (filter, page) gets only the results block."""
    query = _query(request)
    page = await runtime(request).leads.list(query)
    return render(
        request,
        "leads/index.html",
        {"page": page, "query": query, "states": list(LeadState)},
        block="results",
    )


@post("/leads/{lead_id:int}/{action:str}", name="lead_action", include_in_schema=False)
async def lead_action(
    request: Request[Any, Any, Any], lead_id: FromPath[int], action: FromPath[str]
) -> Response[str]:
    """Approve, reject or undo one lead and answer with its new row."""
    if action not in ACTIONS:
        raise NotFound(f"'{action}' is not something a lead can do; use approve, reject or undo.")
    data = await form(request)
    lead = await runtime(request).leads.transition(
        lead_id, ACTIONS[action], actor=WEB_ACTOR, expected_version=optional_int(data.get("version"))
    )
    return render(request, "leads/_row.html", {"lead": lead})
