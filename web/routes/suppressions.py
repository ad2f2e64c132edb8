"""The suppression list page: addresses never to be mailed; add one, or remove one (audited)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from outreach.kernel.services.suppressions import REASONS
from outreach.web.rendering import render

from . import WEB_ACTOR, RecordId, form, optional_int, runtime


async def _context(request: Request[Any, Any, Any], **extra: Any) -> dict[str, Any]:
    rt = runtime(request)
    reason = request.query_params.get("reason") or None
    reason = reason if reason in (*REASONS, "erased") else None
    page = await rt.suppressions.list(
        reason=reason, page=optional_int(request.query_params.get("page")) or 1, per_page=100
    )
    return {"page": page, "reason": reason, "reasons": (*REASONS, "erased"), "added": None, **extra}


@get("/suppressions", name="suppressions", include_in_schema=False)
async def suppressions_index(request: Request[Any, Any, Any]) -> Response[str]:
    """Suppressed addresses, newest first; an htmx request (a filter, a page) gets only the table."""
    return render(request, "suppressions/index.html", await _context(request), block="results")


@post("/suppressions", name="suppression_add", include_in_schema=False)
async def suppression_add(request: Request[Any, Any, Any]) -> Response[str]:
    """Suppress an address by hand and answer with the refreshed list."""
    data = await form(request)
    added = await runtime(request).suppressions.add(
        data.get("email", ""), reason=data.get("reason") or "manual", source="web", actor=WEB_ACTOR
    )
    return render(request, "suppressions/index.html", await _context(request, added=added), block="results")


@post(
    "/suppressions/{suppression_id:int}/remove",
    name="suppression_remove",
    include_in_schema=False,
    status_code=200,
)
async def suppression_remove(request: Request[Any, Any, Any], suppression_id: RecordId) -> Response[str]:
    """Take an address off the list (it may be mailed again); the row disappears."""
    await runtime(request).suppressions.remove(suppression_id, actor=WEB_ACTOR)
    return Response("", media_type="text/html")
