"""Tags on leads: normalizing, per-lead and bulk changes through the web, the API and the CLI,
filtering by tag, bad tags refused, every change audited, and tags erased with their lead."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from test_cli import outreach

from outreach.kernel import DiscoveredBusiness
from outreach.kernel.errors import InvalidInput
from outreach.kernel.services import audit, gdpr
from outreach.kernel.services.lead_tags import normalize_tag
from outreach.kernel.services.leads import LeadQuery
from outreach.kernel.states import LeadState
from outreach.kernel.store.tables import AuditRow, LeadRow, LeadTagRow
from outreach.web import create_app

HX = {"HX-Request": "true"}
TOKEN = "tags-test-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


async def _lead(rt, name: str, **fields):
    lead, _ = await rt.leads.upsert_discovered(DiscoveredBusiness(business_name=name, **fields), "test")
    await LeadRow.update({LeadRow.lifecycle_state: LeadState.PENDING_REVIEW}).where(LeadRow.id == lead.id)
    return await rt.leads.get(lead.id)


@pytest.fixture
async def rt(make_settings, make_runtime, monkeypatch):
    monkeypatch.setenv("OUTREACH_API_TOKEN", TOKEN)
    return await make_runtime(make_settings(web={"access_token": "env:OUTREACH_API_TOKEN"}))


@pytest.fixture
async def web(runtime):
    async with AsyncTestClient(app=create_app(runtime)) as client:
        yield client


@pytest.fixture
async def api(rt):
    async with AsyncTestClient(app=create_app(rt)) as client:
        client.headers.update(BEARER)
        yield client


async def _csrf(client: AsyncTestClient) -> str:
    page = await client.get("/leads")
    match = re.search(r'"x-csrftoken": "([^"]+)"', page.text)
    assert match, "the page carries no CSRF token"
    return match.group(1)


def test_tags_are_normalized_and_bad_ones_refused() -> None:
    assert normalize_tag("  Hot   Lead ") == "hot lead"
    assert normalize_tag("Q3_2026-west") == "q3_2026-west"
    assert normalize_tag("Café") == "café"
    for bad, words in (("", "empty"), ("x" * 41, "longer than 40"), ("a;b", "only letters"), ("<b>", "only")):
        with pytest.raises(InvalidInput, match=words):
            normalize_tag(bad)


async def test_change_tags_adds_removes_audits_and_filters(rt) -> None:
    first, second = await _lead(rt, "First"), await _lead(rt, "Second")
    result = await rt.leads.change_tags([first.id, second.id, 999], add=["Hot", "dentists"], actor="tester")
    assert sorted(result.changed) == [first.id, second.id]
    assert result.skipped == {999: "no such lead"}
    again = await rt.leads.change_tags([first.id], add=["hot"], actor="tester")
    assert again.changed == []  # already there: no change, no audit row
    await rt.leads.change_tags([second.id], remove=["HOT"], actor="tester")

    assert (await rt.leads.get(first.id)).tags == ["dentists", "hot"]
    assert (await rt.leads.get(second.id)).tags == ["dentists"]
    hot = await rt.leads.list(LeadQuery(tag="Hot"))
    assert [lead.id for lead in hot.items] == [first.id]
    assert hot.items[0].tags == ["dentists", "hot"]

    trail = [entry for entry in await audit.trail("lead", second.id) if entry.action == "tags"]
    assert [entry.actor for entry in trail] == ["tester", "tester"]
    assert trail[0].old_value == {"tags": []}
    assert trail[-1].new_value == {"tags": ["dentists"], "added": [], "removed": ["hot"]}
    assert len([e for e in await audit.trail("lead", first.id) if e.action == "tags"]) == 1

    with pytest.raises(InvalidInput, match="added and removed"):
        await rt.leads.change_tags([first.id], add=["x"], remove=["X"], actor="tester")
    with pytest.raises(InvalidInput, match="only letters"):
        await rt.leads.change_tags([first.id], add=["ok", "not/ok"], actor="tester")
    assert (await rt.leads.get(first.id)).tags == ["dentists", "hot"]


async def test_erasure_deletes_the_leads_tags(rt) -> None:
    lead = await _lead(rt, "Erased", email="owner@erased.example")
    await rt.leads.change_tags([lead.id], add=["gone"], actor="tester")
    await gdpr.erase_data(rt, lead_id=lead.id, actor="tester")
    assert await LeadTagRow.count() == 0


async def test_web_tags_one_lead_and_answers_its_row(web, runtime) -> None:
    rt = runtime
    lead = await _lead(rt, "Tagged Dental")
    token = await _csrf(web)
    answer = await web.post(
        f"/leads/{lead.id}/tags", data={"add": "VIP, follow up"}, headers={**HX, "x-csrftoken": token}
    )
    assert answer.status_code == 200
    assert answer.text.lstrip().startswith(f'<tr id="lead-{lead.id}"')
    assert 'data-tag="vip"' in answer.text
    assert 'data-tag="follow up"' in answer.text
    removed = await web.post(
        f"/leads/{lead.id}/tags", data={"remove": "vip"}, headers={**HX, "x-csrftoken": token}
    )
    assert 'data-tag="vip"' not in removed.text
    bad = await web.post(f"/leads/{lead.id}/tags", data={"add": "no!"}, headers={**HX, "x-csrftoken": token})
    assert bad.status_code == 422
    assert "only letters" in bad.text
    missing = await web.post("/leads/999/tags", data={"add": "x"}, headers={**HX, "x-csrftoken": token})
    assert missing.status_code == 404
    unprotected = await web.post(f"/leads/{lead.id}/tags", data={"add": "x"}, headers=HX)
    assert unprotected.status_code == 403
    trail = [e for e in await audit.trail("lead", lead.id) if e.action == "tags"]
    assert [e.actor for e in trail] == ["web", "web"]


async def test_web_bulk_tags_and_filter(web, runtime) -> None:
    rt = runtime
    leads = [await _lead(rt, name) for name in ("One", "Two", "Three")]
    token = await _csrf(web)
    tagged = await web.post(
        "/leads/bulk",
        data={"action": "tag", "bulk_tags": "Spring", "ids": [str(leads[0].id), str(leads[1].id)]},
        headers={**HX, "x-csrftoken": token},
    )
    assert tagged.status_code == 200
    assert "Tagged: 2 leads." in tagged.text
    page = await web.get("/leads", params={"tag": "spring"}, headers=HX)
    assert "One" in page.text
    assert "Two" in page.text
    assert "Three" not in page.text
    # Everything matching the filter, untagged in one go.
    untagged = await web.post(
        "/leads/bulk",
        data={"action": "untag", "bulk_tags": "spring", "all_matching": "1", "tag": "spring"},
        headers={**HX, "x-csrftoken": token},
    )
    assert "Untagged: 2 leads." in untagged.text
    assert await LeadTagRow.count() == 0
    empty = await web.post(
        "/leads/bulk",
        data={"action": "tag", "bulk_tags": " ", "ids": [str(leads[2].id)]},
        headers={**HX, "x-csrftoken": token},
    )
    assert empty.status_code == 422
    full = await web.get("/leads")
    assert 'name="tag"' in full.text
    assert 'value="tag"' in full.text


async def test_api_tags_lead_lists_and_filters(api, rt) -> None:
    first, second = await _lead(rt, "Api One"), await _lead(rt, "Api Two")
    answer = await api.post(f"/api/v1/leads/{first.id}/tags", json={"add": ["Hot", "west"]})
    assert answer.status_code == 200
    assert answer.json()["tags"] == ["hot", "west"]
    assert answer.json()["business_name"] == "Api One"
    answer = await api.post(f"/api/v1/leads/{first.id}/tags", json={"remove": ["west"]})
    assert answer.json()["tags"] == ["hot"]

    listed = (await api.get("/api/v1/leads", params={"tag": "HOT"})).json()
    assert [item["id"] for item in listed["items"]] == [first.id]
    everything = (await api.get("/api/v1/leads")).json()
    assert {item["id"]: item["tags"] for item in everything["items"]} == {first.id: ["hot"], second.id: []}
    assert (await api.get(f"/api/v1/leads/{first.id}")).json()["lead"]["tags"] == ["hot"]

    bulk = await api.post("/api/v1/leads/tags", json={"add": ["batch"], "ids": [first.id, second.id, 999]})
    assert bulk.status_code == 200
    assert sorted(bulk.json()["changed"]) == [first.id, second.id]
    assert bulk.json()["skipped"] == {"999": "no such lead"}
    by_filter = await api.post("/api/v1/leads/tags", json={"remove": ["batch"], "filter": {"tag": "hot"}})
    assert by_filter.json()["changed"] == [first.id]

    bad = await api.post(f"/api/v1/leads/{first.id}/tags", json={"add": ["a" * 50]})
    assert bad.status_code == 422
    assert "longer than 40" in bad.json()["error"]
    assert (await api.get("/api/v1/leads", params={"tag": "no;tag"})).status_code == 422
    assert (await api.post(f"/api/v1/leads/{first.id}/tags", json={})).status_code == 422
    assert (await api.post("/api/v1/leads/999/tags", json={"add": ["x"]})).status_code == 404
    actors = {row["actor"] for row in await AuditRow.select(AuditRow.actor).where(AuditRow.action == "tags")}
    assert actors == {"api"}


# -- the command line -------------------------------------------------------------------

CSV = "name,category,address,phone,website,email\nAcme Dental,Dentist,1 Main St,512-555-0100,,info@acme.example\n"
CSV += "Beta Bakery,Bakery,2 Oak St,512-555-0101,,hi@beta.example\n"


def test_cli_tags_leads_and_lists_by_tag(tmp_path: Path) -> None:
    data, csv_file = tmp_path / "data", tmp_path / "leads.csv"
    csv_file.write_text(CSV)
    outreach(data, "leads", "import", str(csv_file))

    tagged = outreach(data, "leads", "tag", "1", "2", "--add", "Local", "--add", "dentist")
    assert "Changed the tags of 2 leads." in tagged.stdout
    outreach(data, "leads", "tag", "2", "--remove", "dentist")
    listed = json.loads(outreach(data, "leads", "list", "--tag", "dentist", "--json").stdout)
    assert [(lead["id"], lead["tags"]) for lead in listed] == [(1, ["dentist", "local"])]
    table = outreach(data, "leads", "list", "--tag", "local").stdout
    assert "Acme Dental" in table
    assert "[dentist, local]" in table
    assert "Beta Bakery  2 Oak St  [local]" in table

    bad = outreach(data, "leads", "tag", "1", "--add", "bad/tag", check=False)
    assert bad.returncode != 0
    assert "only letters" in bad.stderr
    assert "Traceback" not in bad.stderr
    bad_filter = outreach(data, "leads", "list", "--tag", "bad/tag", check=False)
    assert bad_filter.returncode == 2
    assert "only letters" in bad_filter.stderr
    nothing = outreach(data, "leads", "tag", "1", check=False)
    assert nothing.returncode == 1
    assert "--add" in nothing.stderr
    missing = outreach(data, "leads", "tag", "99", "--add", "x", check=False)
    assert missing.returncode == 1
    assert "99: no such lead" in missing.stderr

    shown = json.loads(outreach(data, "leads", "show", "1", "--json").stdout)
    assert shown["tags"] == ["dentist", "local"]
    assert [e["actor"] for e in shown["audit_trail"] if e["action"] == "tags"] == ["cli"]
