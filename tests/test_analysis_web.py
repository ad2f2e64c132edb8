"""Analysis in the browser app (Litestar's test client) and on the command line (a real process)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from outreach.kernel import DiscoveredBusiness, EnrichmentRecord
from outreach.web import create_app

HX = {"HX-Request": "true"}

WEBSITE = {
    "url": "http://acme-dental.com/",
    "final_url": "https://www.acme-dental.com/",
    "reachable": True,
    "status": 200,
    "pages": [
        {"url": "http://acme-dental.com/", "kind": "home", "status": 200, "bytes": 5120, "truncated": False},
        {
            "url": "https://www.acme-dental.com/private",
            "kind": "contact",
            "blocked": True,
            "error": "robots.txt: no",
        },
    ],
    "emails": [
        {
            "address": "praxis@acme-dental.com",
            "rank": 1,
            "source": "https://www.acme-dental.com/kontakt",
            "pages": ["https://www.acme-dental.com/kontakt", "https://www.acme-dental.com/"],
            "how": ["mailto"],
            "own_domain": True,
            "free_mail": False,
            "third_party": False,
        },
        {
            "address": "web@agency.com",
            "rank": 2,
            "source": "javascript:alert(1)",
            "pages": [],
            "how": ["text"],
            "own_domain": False,
            "free_mail": False,
            "third_party": True,
        },
    ],
    "phones": [{"number": "+49301234567", "display": "+49 30 1234567", "how": "tel", "source": "https://x/"}],
    "socials": {"instagram": "https://instagram.com/acme", "x": "javascript:alert(2)"},
    "title": "<script>alert('title')</script>Acme Dental",
    "description": "Family dentist in Berlin",
}
CHECK = {
    "address": "praxis@acme-dental.com",
    "verdict": "risky",
    "reasons": ["the domain has no MX record; mail would go to its own address"],
    "mx_hosts": ["acme-dental.com"],
    "role": True,
}
SCORE = {"score": 0.61, "signals": {"email": 1.0, "mx": 0.4}, "weights": {"email": 0.3, "mx": 0.25}}


@pytest.fixture
async def client(runtime):
    async with AsyncTestClient(app=create_app(runtime)) as client:
        yield client


def _token(html: str) -> str:
    match = re.search(r'"x-csrftoken": "([^"]+)"', html)
    assert match, "the page carries no CSRF token"
    return match.group(1)


async def _lead(rt, name: str, score: float | None = None) -> int:
    site = f"https://{name.lower().replace(' ', '-')}.example"
    lead, _ = await rt.leads.upsert_discovered(
        DiscoveredBusiness(business_name=name, website_url=site), "test"
    )
    if score is not None:
        await rt.leads.update_fields(lead.id, {"score": score}, actor="test")
    return lead.id


async def test_the_analyze_button_queues_a_job_and_its_progress_polls_until_done(client, runtime) -> None:
    await _lead(runtime, "Acme")
    page = await client.get("/leads")
    assert 'hx-post="/leads/analyze"' in page.text
    token = _token(page.text)

    refused = await client.post("/leads/analyze", headers=HX)
    assert refused.status_code == 403
    assert await runtime.jobs.list() == []

    started = await client.post("/leads/analyze", headers={**HX, "x-csrftoken": token})
    assert started.status_code == 200
    (job,) = await runtime.jobs.list()
    assert job.kind == "analyze"
    assert job.params == {"all": True}
    assert f'hx-get="/leads/analyze/{job.id}"' in started.text
    assert 'hx-trigger="load delay:1s"' in started.text
    assert "<html" not in started.text

    polling = await client.get(f"/leads/analyze/{job.id}", headers=HX)
    assert 'hx-trigger="load delay:1s"' in polling.text
    assert "hx-trigger" not in {k.lower() for k in polling.headers}

    await runtime.runner.run_now(job.id)
    done = await client.get(f"/leads/analyze/{job.id}", headers=HX)
    assert "hx-get" not in done.text  # it stops polling
    assert "1 ready for review" in done.text
    assert done.headers["hx-trigger"] == "job-finished"
    listing = await client.get("/leads")
    assert 'hx-trigger="job-finished from:body"' in listing.text


async def test_a_plain_form_post_redirects_to_the_progress_page(client, runtime) -> None:
    lead_id = await _lead(runtime, "Acme")
    token = _token((await client.get("/leads")).text)
    answer = await client.post(
        "/leads/analyze", data={"_csrf_token": token, "ids": str(lead_id)}, follow_redirects=False
    )
    assert answer.status_code == 303
    (job,) = await runtime.jobs.list()
    assert job.params == {"lead_ids": [lead_id]}
    assert answer.headers["location"] == f"/leads/analyze/{job.id}"
    page = await client.get(answer.headers["location"])
    assert page.text.startswith("<!doctype html>")
    assert "Waiting to start" in page.text


async def test_errors_become_sentences(client, runtime) -> None:
    token = _token((await client.get("/leads")).text)
    missing = await client.post("/leads/analyze", data={"ids": "404"}, headers={**HX, "x-csrftoken": token})
    assert missing.status_code == 404
    assert "There is no lead with id 404" in missing.text
    assert missing.headers["hx-retarget"] == "#flash"
    not_analysis = await client.get("/leads/analyze/999")
    assert not_analysis.status_code == 404


async def test_the_enrichment_partial_shows_what_was_learned(client, runtime) -> None:
    lead_id = await _lead(runtime, "Acme Dental")
    await runtime.leads.record_enrichment(
        lead_id,
        [
            EnrichmentRecord(enricher="website", data=WEBSITE, confidence=0.9),
            EnrichmentRecord(enricher="email_check", data=CHECK, confidence=0.5),
            EnrichmentRecord(enricher="score", data=SCORE, confidence=1.0),
            EnrichmentRecord(enricher="reviews", data={"error": "RuntimeError: boom"}, confidence=0.0),
        ],
        {"email": "praxis@acme-dental.com", "score": 0.61},
        actor="test",
    )
    fragment = await client.get(f"/leads/{lead_id}/enrichment", headers=HX)
    text = fragment.text
    assert "<html" not in text
    assert "praxis@acme-dental.com" in text
    assert '<a href="https://www.acme-dental.com/kontakt"' in text  # the page it was found on
    assert "(+1 more)" in text
    assert "own domain" in text
    assert 'class="third-party"' in text
    assert "third party" in text
    assert "+49 30 1234567" in text
    assert '<a href="https://instagram.com/acme"' in text
    assert 'href="javascript:' not in text
    assert "&lt;script&gt;" in text
    assert "<script>alert" not in text
    assert 'verdict-risky">risky' in text
    assert "no MX record" in text
    assert "role address" in text
    assert "0.61" in text
    assert "not fetched: robots.txt" in text
    assert "Failed: RuntimeError: boom" in text
    page = await client.get(f"/leads/{lead_id}/enrichment")
    assert page.text.startswith("<!doctype html>")


async def test_leads_show_and_sort_by_score(client, runtime) -> None:
    low = await _lead(runtime, "Low", 0.2)
    high = await _lead(runtime, "High", 0.9)
    unscored = await _lead(runtime, "Unscored")
    page = await client.get("/leads?sort=score&desc=1", headers=HX)
    order = [int(i) for i in re.findall(r'<tr id="lead-(\d+)"', page.text)]
    assert order[:2] == [high, low]
    assert unscored in order
    assert f'<a href="/leads/{high}/enrichment" title="What analysis learned">0.90</a>' in page.text
    assert "Score ↓" in page.text


# -- the command line ---------------------------------------------------------------------------


def outreach(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "outreach.web.cli", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_outreach_analyze_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = tmp_path / "outreach.toml"
    # No website and a DNS server that does not answer quickly: the run must still end, and say so.
    config.write_text('[plugins.email_check]\nnameserver = "127.0.0.1"\nport = 9\ntimeout = 0.2\n')
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text("name,email\nAcme,info@acme-dental.com\nBeta,\n")
    assert outreach(data, "leads", "import", str(csv_file)).returncode == 0

    neither = outreach(data, "--config", str(config), "analyze")
    assert neither.returncode == 1
    assert "--all" in neither.stderr
    assert "Traceback" not in neither.stderr

    done = outreach(data, "--config", str(config), "analyze", "--all")
    assert done.returncode == 0, done.stderr
    # Beta has neither an address nor a website: it fails and says why (see the README).
    assert "Analyzed 2 lead(s): 1 ready for review, 1 failed, 0 skipped." in done.stdout
    assert "neither an email address nor a website" in done.stdout + done.stderr

    again = outreach(data, "--config", str(config), "analyze", "1", "--json")
    job = json.loads(again.stdout)
    assert job["result"]["skipped"] == 1
    assert "pending review" in job["report"][0]["message"]

    shown = json.loads(outreach(data, "leads", "show", "1", "--json").stdout)
    assert shown["lifecycle_state"] == "pending_review"
    assert shown["enrichment"]["email_check"]["data"]["verdict"] == "risky"
    assert shown["enrichment"]["website"]["data"]["error"] == "no website"
    assert 0 < shown["score"] < 0.5
