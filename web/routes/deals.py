"""Deal stages from a lead's panel: move a lead to interested, meeting, won or lost."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.params import FromPath

from outreach.kernel.errors import InvalidInput
from outreach.kernel.states import DEAL_STATES, LeadState

from . import WEB_ACTOR, RecordId, form, optional_int, runtime
from .leads import lead_detail


@post("/leads/{lead_id:int}/deal/{stage:str}", name="lead_deal", include_in_schema=False, status_code=200)
async def lead_deal(
    request: Request[Any, Any, Any], lead_id: RecordId, stage: FromPath[str]
) -> Response[str]:
    """Move the lead to the deal stage ``stage`` (audited as the web's) and answer with its panel."""
    if stage not in DEAL_STATES:
        raise InvalidInput(f"'{stage[:40]}' is not a deal stage; use one of: {', '.join(DEAL_STATES)}.")
    data = await form(request)
    await runtime(request).leads.transition(
        lead_id,
        LeadState(stage),
        actor=WEB_ACTOR,
        expected_version=optional_int(data.get("version")),
        reason="on the lead's panel",
    )
    # The panel exactly as its own page shows it, whatever that page puts in it.
    return await lead_detail.fn(request, lead_id=lead_id)
