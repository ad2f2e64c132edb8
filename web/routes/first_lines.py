"""A lead's opening line in its panel: what templates will print, and a person's edit of it.

Saving a line changes the lead's version. Beside the table of leads, the answer is
therefore the lead's row (whose review buttons carry the version) with the line's
block swapped out of band, as the panel's tag form answers; on the lead's own page,
the block alone.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response, post
from litestar.response import Redirect

from outreach.kernel.models import Lead
from outreach.kernel.personalize import plain_first_line
from outreach.kernel.services.first_lines import MAX_CHARS, edit_first_line
from outreach.web.rendering import is_fragment_request, render

from . import WEB_ACTOR, RecordId, form, optional_int, runtime

#: The name of the enricher whose line the panel shows.
ENRICHER = "first_line"


def _beside_the_table(request: Request[Any, Any, Any]) -> bool:
    """Whether the panel is shown on the leads page, next to the lead's row."""
    current = urlsplit(request.headers.get("hx-current-url", "")).path
    return is_fragment_request(request) and current.rstrip("/") == "/leads"


def first_line_context(request: Request[Any, Any, Any], lead: Lead) -> dict[str, Any]:
    """What ``leads/_first_line.html`` needs beside the lead."""
    return {
        "first_line_enabled": ENRICHER in runtime(request).plugins.enrichers.names(),
        "plain_line": plain_first_line(lead),
        "first_line_max": MAX_CHARS,
        "first_line_target": f"#lead-{lead.id}" if _beside_the_table(request) else f"#first-line-{lead.id}",
    }


@post("/leads/{lead_id:int}/first-line", name="lead_first_line", include_in_schema=False)
async def lead_first_line(request: Request[Any, Any, Any], lead_id: RecordId) -> Response[Any]:
    """Save the line a person wrote (``first_line``), or clear it (``action=clear``)."""
    data = await form(request)
    text = None if data.get("action") == "clear" else data.get("first_line")
    rt = runtime(request)
    await edit_first_line(
        rt, lead_id, text, actor=WEB_ACTOR, expected_version=optional_int(data.get("version"))
    )
    if not is_fragment_request(request):
        return Redirect(f"/leads/{lead_id}", status_code=303)
    lead = await rt.leads.get(lead_id)
    context = {"lead": lead, **first_line_context(request, lead)}
    if request.headers.get("hx-target") == f"lead-{lead_id}":
        from .leads import next_steps  # here: the leads module imports this one for its panel

        context.update(await next_steps(request), first_line_target=f"#lead-{lead_id}")
        return render(request, "leads/_first_line_saved.html", context, fragment=True)
    return render(request, "leads/_first_line.html", context, fragment=True)
