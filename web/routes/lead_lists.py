"""Lead lists on the leads page: tagging one lead, and downloading the filtered leads as CSV or JSON.

Tagging the selected leads goes through the bulk form (:mod:`.review`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Stream

from outreach.kernel.services.lead_export import check_format, count_matching, export_chunks, record_export
from outreach.kernel.services.lead_tags import split_tags
from outreach.web.rendering import render

from . import WEB_ACTOR, RecordId, form, runtime
from .leads import next_steps, query_from

#: The content type of each export format.
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


@post("/leads/{lead_id:int}/tags", name="lead_tags", include_in_schema=False)
async def lead_tags_change(request: Request[Any, Any, Any], lead_id: RecordId) -> Response[str]:
    """Add the tags in ``add`` and remove those in ``remove`` (comma-separated); answer the new row."""
    data = await form(request)
    rt = runtime(request)
    await rt.leads.get(lead_id)  # a missing lead is a 404, not a silent skip
    await rt.leads.change_tags(
        [lead_id], add=split_tags(data.get("add")), remove=split_tags(data.get("remove")), actor=WEB_ACTOR
    )
    lead = await rt.leads.get(lead_id)
    return render(request, "leads/_row.html", {"lead": lead, **await next_steps(request)}, fragment=True)


@get("/leads/export", name="leads_export", include_in_schema=False)
async def leads_export(request: Request[Any, Any, Any]) -> Stream:
    """Download every lead matching the page's filters (all pages) as CSV (``format=csv``) or JSON."""
    fmt = check_format(str(request.query_params.get("format") or "csv"))
    query = query_from(request.query_params)
    rt = runtime(request)
    # The audit row is written before the first byte leaves: the file is out once it starts.
    await record_export(query, fmt, await count_matching(query), actor=WEB_ACTOR)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")

    async def body() -> Any:
        async for chunk in export_chunks(rt, query, fmt):
            yield chunk.encode("utf-8")

    return Stream(
        body(),
        media_type=MEDIA_TYPES[fmt],
        headers={
            "content-disposition": f'attachment; filename="leads-{stamp}.{fmt}"',
            "cache-control": "no-store",
        },
    )
