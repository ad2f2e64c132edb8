"""The pages through Litestar's test client: bulk review, CSV upload, detail, jobs, dashboard, settings."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from litestar.testing import AsyncTestClient

from outreach.kernel import DiscoveredBusiness
from outreach.kernel.models import EnrichmentRecord
from outreach.kernel.services import stats
from outreach.kernel.store.tables import EmailRow, LeadRow
from outreach.web import create_app
from outreach.web.charts import daily_chart, funnel_chart
from outreach.web.filters import safe_url

HX = {"HX-Request": "true"}


def _token(html: str) -> str:
    match = re.search(r'"x-csrftoken": "([^"]+)"', html)
    assert match
    return match.group(1)


@pytest.fixture
async def client(runtime):
    async with AsyncTestClient(app=create_app(runtime)) as client:
        client.headers["x-csrftoken"] = _token((await client.get("/leads")).text)
        yield client


async def _lead(rt, name: str, state: str = "pending_review", **fields) -> int:
    lead, _ = await rt.leads.upsert_discovered(DiscoveredBusiness(business_name=name, **fields), "test")
    await LeadRow.update({LeadRow.lifecycle_state: state}).where(LeadRow.id == lead.id)
    return lead.id


async def test_bulk_selected_ids_with_a_summary_of_what_was_skipped(client, runtime) -> None:
    a = await _lead(runtime, "A")
    b = await _lead(runtime, "B", state="discovered")
    c = await _lead(runtime, "C", state="approved")
    answer = await client.post(
        "/leads/bulk", data={"action": "approve", "ids": [str(a), str(b), str(c)]}, headers=HX
    )
    assert answer.status_code == 200
    html = answer.text
    assert "<html" not in html
    assert "Approved: 1 lead." in html
    assert "Skipped 2" in html
    assert "cannot go from &#39;discovered&#39; to &#39;approved&#39;" in html
    assert "cannot go from &#39;approved&#39; to &#39;approved&#39;" in html
    assert (await runtime.leads.get(a)).lifecycle_state == "approved"
    assert (await runtime.leads.get(b)).lifecycle_state == "discovered"


async def test_bulk_all_matching_the_filter_touches_nothing_else(client, runtime) -> None:
    bakeries = [await _lead(runtime, f"Bakery {i}", category="Bakery") for i in range(5)]
    florist = await _lead(runtime, "Florist", category="Florist")
    answer = await client.post(
        "/leads/bulk",
        data={"action": "reject", "all_matching": "1", "category": "bakery", "per_page": "2"},
        headers=HX,
    )
    assert "Rejected: 5 leads." in answer.text
    assert 'name="category" value="bakery"' in answer.text  # the view keeps its filter
    for lead_id in bakeries:
        assert (await runtime.leads.get(lead_id)).lifecycle_state == "rejected"
    assert (await runtime.leads.get(florist)).lifecycle_state == "pending_review"


async def test_bulk_without_a_selection_says_what_to_do(client, runtime) -> None:
    await _lead(runtime, "Lonely")
    empty = await client.post("/leads/bulk", data={"action": "approve"}, headers=HX)
    assert empty.status_code == 422
    assert empty.headers["hx-retarget"] == "#flash"
    assert "No leads are selected" in empty.text
    wrong = await client.post("/leads/bulk", data={"action": "explode", "ids": ["1"]}, headers=HX)
    assert wrong.status_code == 422
    assert "not a bulk action" in wrong.text


async def test_filters_sort_and_pager_keep_each_other(client, runtime) -> None:
    for i in range(5):
        await _lead(runtime, f"Dental {i}", category="Dentist", city="Austin")
    await _lead(runtime, "Elsewhere", category="Dentist", city="Boston")
    await LeadRow.update({LeadRow.score: 0.8}).where(LeadRow.business_name == "Dental 3")
    page = await client.get(
        "/leads",
        params={"category": "dentist", "location": "austin", "sort": "score", "desc": "1", "per_page": "2"},
    )
    html = page.text
    assert "5 leads" in html
    assert "page 1 of 3" in html
    assert html.index("Dental 3") < html.index("Dental 0")
    assert "Elsewhere" not in html
    next_link = re.search(r'rel="next" href="([^"]+)"', html).group(1)
    for part in ("category=dentist", "location=austin", "sort=score", "desc=1", "per_page=2", "page=2"):
        assert part in next_link
    scored = await client.get("/leads", params={"min_score": "0.5"}, headers=HX)
    assert "Dental 3" in scored.text
    assert "Dental 0" not in scored.text
    nonsense = await client.get("/leads", params={"min_score": "lots", "sort": "evil", "page": "-3"})
    assert nonsense.status_code == 200


async def test_detail_is_a_page_or_a_panel(client, runtime) -> None:
    lead_id = await _lead(runtime, "Detailed", email="owner@detailed.example", metadata={"hours": "9-5"})
    full = await client.get(f"/leads/{lead_id}")
    assert full.text.startswith("<!doctype html>")
    panel = await client.get(f"/leads/{lead_id}", headers=HX)
    assert panel.text.lstrip().startswith('<article class="lead-detail"')
    for text in (
        "owner@detailed.example",
        "Not analyzed yet",
        "No email to this lead yet",
        "hours",
        "source:test",
    ):
        assert text in panel.text
    missing = await client.get("/leads/999", headers=HX)
    assert missing.status_code == 404
    assert "There is no lead with id 999" in missing.text


async def test_enrichment_partial_shows_each_enricher(client, runtime) -> None:
    lead_id = await _lead(runtime, "Enriched")
    await runtime.leads.record_enrichment(
        lead_id,
        [
            EnrichmentRecord(enricher="website", data={"title": "Fresh <bread>"}, confidence=0.8),
            EnrichmentRecord(enricher="reviews_digest", data={"summary": "Loved <b>by</b> locals"}),
        ],
        {},
        actor="test",
    )
    panel = (await client.get(f"/leads/{lead_id}", headers=HX)).text
    assert "Fresh &lt;bread&gt;" in panel
    assert "reviews_digest" in panel
    assert "Loved &lt;b&gt;by&lt;/b&gt; locals" in panel


async def test_csv_upload_queues_an_import_whose_partial_polls_until_done(client, runtime) -> None:
    csv = b"name,category,email\nUploaded One,Bakery,one@up.example\nUploaded Two,Bakery,\n"
    answer = await client.post("/leads/import", files={"file": ("my leads.csv", csv, "text/csv")}, headers=HX)
    assert answer.status_code == 200, answer.text
    assert 'data-job-state="queued"' in answer.text
    assert 'hx-trigger="load delay:1s"' in answer.text
    (job,) = await runtime.jobs.list()
    assert job.params["source"] == "csv"
    assert (runtime.settings.data_path / "imports").is_dir()

    await runtime.runner.run_now(job.id)
    polled = await client.get(f"/jobs/{job.id}", headers=HX)
    assert 'data-job-state="succeeded"' in polled.text
    assert "hx-trigger" not in polled.text  # finished: the partial stops polling
    assert polled.headers["hx-trigger"] == "job-finished"
    assert "created 2" in polled.text
    assert (await runtime.leads.list()).total == 2

    empty = await client.post("/leads/import", files={"file": ("empty.csv", b"  ", "text/csv")}, headers=HX)
    assert empty.status_code == 422
    assert "is empty" in empty.text


async def test_cancel_a_job_from_its_partial(client, runtime) -> None:
    job = await runtime.jobs.submit("discover", {"source": "csv"}, actor="test")
    dashboard = (await client.get("/")).text
    assert f'hx-post="/jobs/{job.id}/cancel"' in dashboard
    cancelled = await client.post(f"/jobs/{job.id}/cancel", headers=HX)
    assert 'data-job-state="cancelled"' in cancelled.text
    plain = await client.post(f"/jobs/{job.id}/resume", follow_redirects=False)
    assert plain.status_code == 400  # a cancelled job cannot be resumed; said in a sentence
    assert "only interrupted or failed jobs" in plain.text


async def _email(lead_id: int, step: int, state: str, sent_at: datetime | None = None) -> None:
    await EmailRow.insert(
        EmailRow(
            lead=lead_id, dedupe_key=f"{lead_id}:1:{step}", step_number=step, state=state, sent_at=sent_at
        )
    )


@pytest.mark.both_engines
async def test_funnel_and_sends_per_day(runtime) -> None:
    now = datetime.now(UTC)
    ids = [await _lead(runtime, f"L{i}", state="ready_for_outreach") for i in range(4)]
    await _lead(runtime, "Fresh", state="discovered")
    await _email(ids[0], 1, "replied", now)
    await _email(ids[0], 2, "sent", now)
    await _email(ids[1], 1, "opened", now - timedelta(days=2))
    await _email(ids[2], 1, "queued")
    steps = {step.name: step.count for step in await stats.funnel()}
    assert steps == {"discovered": 5, "approved": 4, "sent": 2, "opened": 2, "replied": 1}

    days = await stats.sends_per_day(7, today=now.date())
    assert len(days) == 7
    assert days[-1].day == now.date()
    assert days[-1].count == 2
    assert days[-3].count == 1
    assert sum(day.count for day in days) == 3


@pytest.mark.both_engines
async def test_dashboard_fragment_draws_the_figures(client, runtime) -> None:
    lead_id = await _lead(runtime, "Counted", state="approved")
    await _email(lead_id, 1, "sent", datetime.now(UTC))
    fragment = await client.get("/", headers=HX)
    assert "<html" not in fragment.text
    assert 'data-state="approved">1<' in fragment.text
    assert 'data-step="sent" data-value="1"' in fragment.text
    assert fragment.text.count('class="day"') == 14
    assert "<svg" in fragment.text
    assert "<script" not in fragment.text


def test_chart_geometry() -> None:
    chart = funnel_chart(
        [stats.FunnelStep("discovered", 200), stats.FunnelStep("approved", 50), stats.FunnelStep("sent", 0)]
    )
    first, second, third = chart.bars
    assert second.width == pytest.approx(first.width / 4, abs=0.2)
    assert third.width == 0
    assert second.share == 0.25
    assert funnel_chart([stats.FunnelStep("discovered", 0)]).bars[0].width == 0
    days = daily_chart([stats.DayCount(day=date(2026, 1, d), count=c) for d, c in ((1, 0), (2, 4), (3, 2))])
    assert [bar.value for bar in days.bars] == [0, 4, 2]
    assert days.bars[1].height == pytest.approx(2 * days.bars[2].height, abs=0.2)
    assert days.bars[0].height == 0
    assert days.total == 6


def test_safe_url_keeps_only_harmless_links() -> None:
    assert safe_url("https://a.example/x") == "https://a.example/x"
    assert safe_url("acme.example") == "http://acme.example"
    assert safe_url("mailto:a@b.example") == "mailto:a@b.example"
    for hostile in (
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "data:text/html,x",
        "vbscript:x",
        "//evil",
        "",
    ):
        assert safe_url(hostile) is None


async def test_settings_page_shows_references_never_secrets(make_settings, make_runtime, monkeypatch) -> None:
    monkeypatch.setenv("OUTREACH_WEB_TOKEN", "very-secret-value")
    monkeypatch.delenv("SMTP_PASSWORD_MISSING", raising=False)
    settings = make_settings(
        web={"access_token": "env:OUTREACH_WEB_TOKEN"},
        sender={"backend": "outbox", "smtp": {"password": "env:SMTP_PASSWORD_MISSING"}},
        disabled=["nothing_here"],
    )
    rt = await make_runtime(settings)
    async with AsyncTestClient(app=create_app(rt)) as client:
        client.headers["Authorization"] = "Bearer very-secret-value"
        html = (await client.get("/settings")).text
    assert "very-secret-value" not in html
    assert "env:OUTREACH_WEB_TOKEN" in html
    assert "env:SMTP_PASSWORD_MISSING" in html
    secrets = html[html.index('id="secrets"') :]
    assert re.search(r"env:SMTP_PASSWORD_MISSING</code></td><td><span[^>]*>missing", secrets)
    assert re.search(r"env:OUTREACH_WEB_TOKEN</code></td><td><span[^>]*>set", secrets)
    plain = html.replace("/<wbr>", "/")  # paths may wrap after each slash
    for text in (str(settings.data_path), "outreach.log", rt.vault.source, "csv_import", "nothing_here"):
        assert text in plain
