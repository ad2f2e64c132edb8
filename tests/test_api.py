"""The JSON API under /api/v1 through Litestar's test client, authenticated with the bearer token."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from outreach.kernel import DiscoveredBusiness
from outreach.kernel.services import audit
from outreach.kernel.store.tables import EmailRow, LeadRow, SuppressionRow
from outreach.web import create_app

TOKEN = "api-test-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def rt(make_settings, make_runtime, monkeypatch):
    monkeypatch.setenv("OUTREACH_API_TOKEN", TOKEN)
    return await make_runtime(make_settings(web={"access_token": "env:OUTREACH_API_TOKEN"}))


@pytest.fixture
async def client(rt):
    async with AsyncTestClient(app=create_app(rt)) as client:
        client.headers.update(BEARER)
        yield client


async def _lead(rt, name: str, *, state: str = "pending_review", **fields):
    lead, _ = await rt.leads.upsert_discovered(DiscoveredBusiness(business_name=name, **fields), "test")
    values = {LeadRow.lifecycle_state: state}
    if "score" in fields:
        values[LeadRow.score] = fields.pop("score")
    await LeadRow.update(values).where(LeadRow.id == lead.id)
    return await rt.leads.get(lead.id)


async def test_leads_filter_sort_and_page(client, rt) -> None:
    await _lead(rt, "Alpha Dental", category="Dentist", location="1 Main St, Austin", city="Austin")
    await _lead(rt, "Beta Bakery", category="Bakery", location="2 Main St, Dallas", city="Dallas")
    await _lead(
        rt, "Gamma Dental", category="Dentist", location="3 Oak St, Dallas", city="Dallas", state="approved"
    )
    await LeadRow.update({LeadRow.score: 0.9}).where(LeadRow.business_name == "Gamma Dental")
    await LeadRow.update({LeadRow.score: 0.4}).where(LeadRow.business_name == "Alpha Dental")

    async def names(**params) -> list[str]:
        answer = await client.get("/api/v1/leads", params=params)
        assert answer.status_code == 200, answer.text
        return [item["business_name"] for item in answer.json()["items"]]

    assert await names(category="DENTIST") == ["Alpha Dental", "Gamma Dental"]
    assert await names(category="dent") == []  # a category is matched whole
    assert await names(location="dallas") == ["Beta Bakery", "Gamma Dental"]
    assert await names(q="oak st") == ["Gamma Dental"]
    assert await names(q="dental main") == ["Alpha Dental"]  # every word, anywhere
    assert await names(q="a") == ["Alpha Dental", "Beta Bakery", "Gamma Dental"]
    assert await names(state="approved") == ["Gamma Dental"]
    assert await names(min_score=0.5) == ["Gamma Dental"]
    assert await names(q="bakery") == ["Beta Bakery"]
    assert await names(sort="score", descending=True) == ["Gamma Dental", "Alpha Dental", "Beta Bakery"]
    assert await names(sort="business_name", per_page=2, page=2) == ["Gamma Dental"]
    paged = (await client.get("/api/v1/leads", params={"per_page": 2})).json()
    assert (paged["total"], paged["page"], paged["per_page"]) == (3, 1, 2)

    bad = await client.get("/api/v1/leads", params={"sort": "password"})
    assert bad.status_code == 422
    assert "is not a sort" in bad.json()["error"]
    bad_state = await client.get("/api/v1/leads", params={"state": "nirvana"})
    assert bad_state.status_code == 422
    assert "pending_review" in bad_state.json()["error"]


async def test_transition_and_bulk_by_ids_and_by_filter(client, rt) -> None:
    first = await _lead(rt, "First", category="Bakery")
    second = await _lead(rt, "Second", category="Bakery")
    third = await _lead(rt, "Third", category="Bakery", state="discovered")
    other = await _lead(rt, "Other", category="Florist")

    moved = await client.post(
        f"/api/v1/leads/{first.id}/transition", json={"state": "approved", "version": first.version}
    )
    assert moved.status_code == 200
    assert moved.json()["lifecycle_state"] == "approved"
    stale = await client.post(
        f"/api/v1/leads/{first.id}/transition", json={"state": "rejected", "version": first.version}
    )
    assert stale.status_code == 409
    assert "changed by someone else" in stale.json()["error"]

    by_ids = await client.post(
        "/api/v1/leads/bulk", json={"state": "rejected", "ids": [second.id, first.id, 999]}
    )
    assert by_ids.status_code == 200
    body = by_ids.json()
    assert body["changed"] == [second.id]
    assert body["skipped"] == {
        str(first.id): "cannot go from 'approved' to 'rejected'",
        "999": "no such lead",
    }

    by_filter = await client.post(
        "/api/v1/leads/bulk",
        json={"state": "pending_review", "filter": {"category": "Bakery", "state": "rejected"}},
    )
    assert by_filter.json()["changed"] == [second.id]
    assert (await rt.leads.get(third.id)).lifecycle_state == "discovered"
    assert (await rt.leads.get(other.id)).lifecycle_state == "pending_review"
    trail = await audit.trail("lead", second.id)
    assert [entry.actor for entry in trail[-2:]] == ["api", "api"]
    assert trail[-1].new_value == {"lifecycle_state": "pending_review", "bulk": True}

    nothing = await client.post("/api/v1/leads/bulk", json={"state": "approved"})
    assert nothing.status_code == 422


async def test_lead_detail_and_emails(client, rt) -> None:
    lead = await _lead(rt, "Mailed", email="owner@mailed.example")
    await EmailRow.insert(
        EmailRow(lead=lead.id, dedupe_key=f"{lead.id}:1:1", subject="Hello", state="queued"),
        EmailRow(lead=lead.id, dedupe_key=f"{lead.id}:1:2", subject="Again", state="sent", step_number=2),
    )
    detail = (await client.get(f"/api/v1/leads/{lead.id}")).json()
    assert detail["lead"]["email"] == "owner@mailed.example"
    assert [email["subject"] for email in detail["emails"]] == ["Hello", "Again"]
    assert detail["audit"][0]["action"] == "discovered"

    queued = (await client.get("/api/v1/emails", params={"state": "queued"})).json()
    assert [email["subject"] for email in queued["items"]] == ["Hello"]
    assert queued["total"] == 1
    one = (await client.get(f"/api/v1/emails/{queued['items'][0]['id']}")).json()
    assert one["lead_id"] == lead.id
    assert (await client.get("/api/v1/emails/999")).status_code == 404
    assert (await client.get("/api/v1/emails", params={"state": "lost"})).status_code == 422


async def test_jobs_cancel_and_resume(client, rt) -> None:
    queued = await rt.jobs.submit("discover", {"source": "csv"}, actor="test")
    cancelled = await client.post(f"/api/v1/jobs/{queued.id}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    again = await client.post(f"/api/v1/jobs/{queued.id}/cancel")
    assert again.status_code == 400
    assert "already ended" in again.json()["error"]
    not_resumable = await client.post(f"/api/v1/jobs/{queued.id}/resume")
    assert not_resumable.status_code == 400

    failed = await rt.jobs.submit("discover", {"source": "csv"}, actor="test")
    from outreach.kernel.services.jobs import JobState

    await rt.jobs.finish(failed.id, JobState.FAILED, error="boom")
    resumed = await client.post(f"/api/v1/jobs/{failed.id}/resume")
    assert resumed.json()["state"] == "queued"
    assert resumed.json()["error"] is None
    listed = (await client.get("/api/v1/jobs")).json()
    assert [job["id"] for job in listed] == [failed.id, queued.id]
    assert (await client.get(f"/api/v1/jobs/{failed.id}")).json()["kind"] == "discover"
    actions = [entry.action for entry in await audit.trail("job", queued.id)]
    assert "cancel_requested" in actions


async def test_suppressions_add_list_remove_audited_and_encrypted(client, rt) -> None:
    added = await client.post(
        "/api/v1/suppressions", json={"email": " Someone@Example.COM ", "reason": "unsubscribed"}
    )
    assert added.status_code == 201, added.text
    entry = added.json()
    assert entry["email"] == "Someone@Example.COM"
    assert entry["reason"] == "unsubscribed"
    assert entry["source"] == "api"
    again = await client.post("/api/v1/suppressions", json={"email": "someone@example.com"})
    assert again.json()["id"] == entry["id"]
    assert await rt.suppressions.is_suppressed("SOMEONE@example.com")

    raw = await SuppressionRow.select().first()
    assert "someone" not in str(raw).lower()  # encrypted and hashed at rest
    bad = await client.post("/api/v1/suppressions", json={"email": "not an address"})
    assert bad.status_code == 422
    assert "is not an email address" in bad.json()["error"]

    listed = (await client.get("/api/v1/suppressions")).json()
    assert listed["total"] == 1
    assert listed["items"][0]["id"] == entry["id"]
    assert (await client.get("/api/v1/suppressions", params={"reason": "bounced"})).json()["total"] == 0

    removed = await client.delete(f"/api/v1/suppressions/{entry['id']}")
    assert removed.status_code == 200
    assert removed.json()["id"] == entry["id"]
    assert not await rt.suppressions.is_suppressed("someone@example.com")
    assert (await client.delete(f"/api/v1/suppressions/{entry['id']}")).status_code == 404
    trail = await audit.trail("suppression", entry["id"])
    assert [(row.action, row.actor) for row in trail] == [("added", "api"), ("removed", "api")]
    assert all("someone" not in str(row.new_value or row.old_value).lower() for row in trail)


async def test_openapi_schema_lists_every_area(client) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    for path in (
        "/api/v1/leads",
        "/api/v1/leads/{lead_id}",
        "/api/v1/leads/{lead_id}/transition",
        "/api/v1/leads/bulk",
        "/api/v1/emails",
        "/api/v1/emails/{email_id}",
        "/api/v1/jobs/{job_id}/cancel",
        "/api/v1/jobs/{job_id}/resume",
        "/api/v1/suppressions",
        "/api/v1/suppressions/{suppression_id}",
    ):
        assert path in paths, path
    assert not any(path.startswith("/leads") for path in paths), "pages stay out of the API schema"
