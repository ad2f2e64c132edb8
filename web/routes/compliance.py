"""The compliance page (what is missing before real mail may go out), and GDPR export and erasure."""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Redirect

from outreach.kernel import compliance_problems, public_url
from outreach.kernel.errors import InvalidInput
from outreach.kernel.runtime import Runtime
from outreach.kernel.services import gdpr
from outreach.web.rendering import is_fragment_request, render

from . import WEB_ACTOR, RecordId, form, runtime


def problems(rt: Runtime) -> list[str]:
    """What must still be configured before senders of real mail send anything."""
    return compliance_problems(rt.settings, rt.mailboxes.all_settings())


@get("/compliance", name="compliance", include_in_schema=False)
async def compliance_page(request: Request[Any, Any, Any]) -> Response[str]:
    """The legal settings in effect, what is missing, retention, and the GDPR tools."""
    rt = runtime(request)
    return render(
        request,
        "compliance/index.html",
        {
            "problems": problems(rt),
            "legal": rt.settings.compliance,
            "tracking": rt.settings.tracking,
            "public_url": public_url(rt.settings),
            "mailboxes": rt.mailboxes.all_settings(),
            "senders": {name: rt.mailboxes.sender_chain(name)[0] for name in rt.mailboxes.names()},
            "report": None,
        },
    )


def _download(data: dict[str, Any], name: str) -> Response[bytes]:
    body = json.dumps(data, indent=2, ensure_ascii=False, default=str).encode()
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


def _address(data: dict[str, str]) -> str:
    address = data.get("email", "").strip()
    if not address:
        raise InvalidInput("Type the email address whose data you want; for example ann@example.com.")
    return address


@post("/gdpr/export", name="gdpr_export", include_in_schema=False, status_code=200)
async def gdpr_export(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Everything held about one address, as a JSON download (a POST keeps the address out of URLs)."""
    address = _address(await form(request))
    data = await gdpr.export_data(runtime(request), address=address)
    return _download(data, "outreach-data.json")


@post("/gdpr/erase", name="gdpr_erase", include_in_schema=False)
async def gdpr_erase(request: Request[Any, Any, Any]) -> Response[str]:
    """Erase everything held about one address; only its keyed hash stays on the suppression list."""
    data = await form(request)
    address = _address(data)
    if data.get("confirm") != "yes":
        raise InvalidInput("Tick the box to confirm the erasure: it cannot be undone.")
    report = await gdpr.erase_data(runtime(request), address=address, actor=WEB_ACTOR)
    return render(request, "compliance/index.html", {"report": report}, block="erase_result", fragment=True)


@get("/gdpr/leads/{lead_id:int}/export", name="gdpr_lead_export", include_in_schema=False)
async def gdpr_lead_export(request: Request[Any, Any, Any], lead_id: RecordId) -> Response[bytes]:
    """Everything held about one lead and its address, as a JSON download."""
    data = await gdpr.export_data(runtime(request), lead_id=lead_id)
    return _download(data, f"outreach-lead-{lead_id}.json")


@post("/gdpr/leads/{lead_id:int}/erase", name="gdpr_lead_erase", include_in_schema=False, status_code=200)
async def gdpr_lead_erase(request: Request[Any, Any, Any], lead_id: RecordId) -> Response[Any]:
    """Erase one lead and everything held about its address, then go back to the leads."""
    await gdpr.erase_data(runtime(request), lead_id=lead_id, actor=WEB_ACTOR)
    if is_fragment_request(request):
        return Response("", headers={"HX-Redirect": "/leads"})
    return Redirect("/leads", status_code=303)
