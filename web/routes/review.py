"""Working on many leads at once: bulk approve/reject/undo/tag (importing a CSV: :mod:`.lead_import`)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import msgspec
from litestar import Request, Response, post

from outreach.kernel.errors import InvalidInput
from outreach.kernel.services.lead_tags import split_tags
from outreach.kernel.services.leads import BulkResult
from outreach.web.rendering import render

from . import WEB_ACTOR, runtime
from .leads import ACTIONS, query_from, results_context

#: How many skipped ids the summary lists per reason.
SHOWN_IDS = 10
#: What each bulk action is called once done.
DONE = {
    "approve": "Approved",
    "reject": "Rejected",
    "undo": "Sent back to review",
    "ready": "Made ready for outreach",
    "tag": "Tagged",
    "untag": "Untagged",
}


class SkipGroup(msgspec.Struct, frozen=True):
    """Leads a bulk action left alone for one reason."""

    reason: str
    count: int
    ids: list[int]


class BulkSummary(msgspec.Struct, frozen=True):
    """What a bulk action did, as the page shows it."""

    action: str
    changed: int
    skipped: int
    groups: list[SkipGroup]


def summarize(action: str, result: BulkResult) -> BulkSummary:
    """Group the skipped leads by reason, most common first."""
    by_reason: dict[str, list[int]] = defaultdict(list)
    for lead_id, reason in sorted(result.skipped.items()):
        by_reason[reason].append(lead_id)
    groups = [
        SkipGroup(reason=reason, count=len(ids), ids=ids[:SHOWN_IDS])
        for reason, ids in sorted(by_reason.items(), key=lambda item: (-len(item[1]), item[0]))
    ]
    return BulkSummary(
        action=DONE[action], changed=len(result.changed), skipped=len(result.skipped), groups=groups
    )


def _ids(values: list[str]) -> list[int]:
    return [int(value) for value in values if value.strip().isdigit()]


@post("/leads/bulk", name="leads_bulk", include_in_schema=False)
async def leads_bulk(request: Request[Any, Any, Any]) -> Response[str]:
    """Approve, reject, undo, make ready, tag or untag the selected leads (or all matching the
    filter); show what was skipped and why.

    Tagging takes its comma-separated tags from ``bulk_tags`` (``tag`` is the page's filter).
    """
    data = await request.form()
    action = str(data.get("action") or "")
    if action not in DONE:
        raise InvalidInput(
            f"'{action}' is not a bulk action; use approve, reject, undo, ready, tag or untag."
        )
    query = query_from(data)
    rt = runtime(request)
    if data.get("all_matching") == "1":
        # "Make all approved ready" picks its leads by state while the table keeps its filters.
        selection = query_from({"state": data.get("select_state")}) if data.get("select_state") else query
        ids = await rt.leads.ids_matching(selection)
    else:
        ids = _ids([str(value) for value in data.getall("ids", [])])
    if not ids:
        raise InvalidInput("No leads are selected: tick some rows, or choose all leads matching the filter.")
    if action in ("tag", "untag"):
        tags = split_tags(str(data.get("bulk_tags") or ""))
        if not tags:
            raise InvalidInput("Type the tags to add or remove first (separate several with commas).")
        adding = action == "tag"
        change = await rt.leads.change_tags(
            ids, add=tags if adding else (), remove=() if adding else tags, actor=WEB_ACTOR
        )
        result = BulkResult(changed=change.changed, skipped=change.skipped)
    elif action == "ready":
        result = await rt.enrollment.mark_ready(ids, actor=WEB_ACTOR)
    else:
        result = await rt.leads.transition_many(ids, ACTIONS[action], actor=WEB_ACTOR)
    context = await results_context(request, query)
    context["summary"] = summarize(action, result)
    return render(request, "leads/index.html", context, block="results")
