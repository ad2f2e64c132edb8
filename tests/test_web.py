"""The web skeleton through Litestar's test client: pages, fragments, the review flow, CSRF."""

from __future__ import annotations

import re

import pytest
from litestar.testing import AsyncTestClient

from outreach.kernel import DiscoveredBusiness
from outreach.kernel.services import audit
from outreach.kernel.states import LeadState
from outreach.kernel.store.tables import LeadRow
from outreach.web import create_app

HX = {"HX-Request": "true"}


async def _pending(rt, name: str):
    lead, _ = await rt.leads.upsert_discovered(DiscoveredBusiness(business_name=name), "test")
    await LeadRow.update({LeadRow.lifecycle_state: LeadState.PENDING_REVIEW}).where(LeadRow.id == lead.id)
    return await rt.leads.get(lead.id)


@pytest.fixture
async def client(runtime):
    async with AsyncTestClient(app=create_app(runtime)) as client:
        yield client


def _token(client: AsyncTestClient, html: str) -> str:
    match = re.search(r'"x-csrftoken": "([^"]+)"', html)
    assert match, "the page carries no CSRF token"
    return match.group(1)


async def test_dashboard_counts_states(client, runtime) -> None:
    await _pending(runtime, "A")
    page = await client.get("/")
    assert page.status_code == 200
    assert 'data-state="pending_review">1<' in page.text
    assert page.headers["vary"] == "HX-Request"
    assert "/static/htmx/htmx.min.js" in page.text


async def test_full_page_for_browsers_fragment_for_htmx(client, runtime) -> None:
    await _pending(runtime, "Fragmented")
    full = await client.get("/leads")
    assert full.text.startswith("<!doctype html>")
    assert "Fragmented" in full.text
    fragment = await client.get("/leads?state=pending_review", headers=HX)
    assert "<html" not in fragment.text
    assert "Fragmented" in fragment.text
    boosted = await client.get("/leads", headers={**HX, "HX-Boosted": "true"})
    assert boosted.text.startswith("<!doctype html>")


async def test_approve_and_reject_swap_only_the_row_and_audit(client, runtime) -> None:
    first = await _pending(runtime, "First")
    second = await _pending(runtime, "Second")
    token = _token(client, (await client.get("/leads")).text)

    approved = await client.post(
        f"/leads/{first.id}/approve",
        data={"version": str(first.version)},
        headers={**HX, "x-csrftoken": token},
    )
    assert approved.status_code == 200
    assert approved.text.lstrip().startswith(f'<tr id="lead-{first.id}" data-state="approved"')
    assert "Second" not in approved.text

    rejected = await client.post(f"/leads/{second.id}/reject", headers={**HX, "x-csrftoken": token})
    assert 'data-state="rejected"' in rejected.text

    assert (await runtime.leads.get(first.id)).lifecycle_state == "approved"
    trail = await audit.trail("lead", first.id)
    assert trail[-1].action == "transition:pending_review->approved"
    assert trail[-1].actor == "web"
    assert trail[-1].request_id


async def test_stale_version_and_illegal_moves_show_a_message_not_a_traceback(client, runtime) -> None:
    lead = await _pending(runtime, "Raced")
    token = _token(client, (await client.get("/leads")).text)
    headers = {**HX, "x-csrftoken": token}
    await client.post(f"/leads/{lead.id}/approve", data={"version": str(lead.version)}, headers=headers)
    stale = await client.post(
        f"/leads/{lead.id}/reject", data={"version": str(lead.version)}, headers=headers
    )
    assert stale.status_code == 409
    assert stale.headers["hx-retarget"] == "#flash"
    assert "changed by someone else" in stale.text
    illegal = await client.post(f"/leads/{lead.id}/approve", headers=headers)
    assert illegal.status_code == 409
    assert "cannot go from" in illegal.text
    assert "Traceback" not in stale.text + illegal.text


async def test_unsafe_requests_without_a_csrf_token_are_refused(client, runtime) -> None:
    lead = await _pending(runtime, "Protected")
    refused = await client.post(f"/leads/{lead.id}/approve", headers=HX)
    assert refused.status_code == 403
    assert (await runtime.leads.get(lead.id)).lifecycle_state == "pending_review"
    forged = await client.post(f"/leads/{lead.id}/approve", headers={**HX, "x-csrftoken": "forged"})
    assert forged.status_code == 403
    assert (await runtime.leads.get(lead.id)).lifecycle_state == "pending_review"


async def test_not_found_and_api(client, runtime) -> None:
    lead = await _pending(runtime, "Api Lead")
    missing = await client.get("/no/such/page")
    assert missing.status_code == 404
    assert "There is nothing at this address" in missing.text
    listed = await client.get("/api/v1/leads", params={"state": "pending_review"})
    assert [item["business_name"] for item in listed.json()["items"]] == ["Api Lead"]
    detail = await client.get(f"/api/v1/leads/{lead.id}")
    assert detail.json()["lead"]["id"] == lead.id
    gone = await client.get("/api/v1/leads/999")
    assert gone.status_code == 404
    assert "no lead with id 999" in gone.json()["error"]
    schema = await client.get("/schema/openapi.json")
    assert "/api/v1/leads" in schema.json()["paths"]


async def test_user_text_is_escaped(client, runtime) -> None:
    await _pending(runtime, "<script>alert(1)</script>")
    page = await client.get("/leads")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
