"""The way to a first email through the pages: empty states, the checklist, review without a detour,
make ready, and the Settings form (written, checked as at start-up, applied without a restart)."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from litestar.testing import AsyncTestClient

from outreach.kernel import DiscoveredBusiness
from outreach.kernel.config import load_settings
from outreach.kernel.store.tables import EmailRow, LeadRow, SequenceRow
from outreach.web import create_app

HX = {"HX-Request": "true"}

CONFIG = """\
# Ann's outreach: hand-written, with comments that must survive the Settings page.
log_level = "info"   # keep me

[web]
port = 8000 # the port I like

[plugins.email_check]
timeout = 1   # a comment inside a plugin table
"""


def _token(html: str) -> str:
    match = re.search(r'"x-csrftoken": "([^"]+)"', html)
    assert match
    return match.group(1)


class MemoryKeyring(KeyringBackend):
    """A keyring that keeps secrets in memory, as an OS keyring would on disk."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[service, username] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def config_file(tmp_path: Path, data_dir: Path) -> Path:
    path = tmp_path / "outreach.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture
async def app_runtime(config_file: Path, data_dir: Path, make_runtime):
    return await make_runtime(load_settings(config_file, data_dir=data_dir), load_entry_points=False)


@pytest.fixture
async def client(app_runtime):
    async with AsyncTestClient(app=create_app(app_runtime)) as client:
        client.headers["x-csrftoken"] = _token((await client.get("/leads")).text)
        yield client


async def _lead(rt, name: str, state: str = "pending_review", **fields) -> int:
    lead, _ = await rt.leads.upsert_discovered(DiscoveredBusiness(business_name=name, **fields), "test")
    await LeadRow.update({LeadRow.lifecycle_state: state}).where(LeadRow.id == lead.id)
    return lead.id


def _form(**overrides: str) -> dict[str, str]:
    values = {
        "sender_name": "Ann Example",
        "physical_address": "1 Main St, Springfield, IL 62701",
        "public_url": "https://outreach.example.com",
        "backend": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": "2525",
        "smtp_security": "none",
        "smtp_username": "ann",
        "smtp_password": "",
        "mb-0-previous_name": "default",
        "mb-0-name": "main",
        "mb-0-from_address": "Ann Example <ann@example.com>",
        "mb-0-daily_cap": "25",
        "mb-0-window": "00:00-24:00",
        "mb-0-min_gap_seconds": "0",
        "mb-1-previous_name": "",
        "mb-1-name": "",
        "mb-1-from_address": "",
        "mb-1-daily_cap": "30",
        "mb-1-window": "09:00-17:00",
        "mb-1-weekdays_only": "1",
        "mb-1-min_gap_seconds": "90",
    }
    values.update(overrides)
    return values


# -- empty states and the checklist ---------------------------------------------------


async def test_every_page_on_an_empty_database_says_what_to_do_next(client) -> None:
    dashboard = (await client.get("/")).text
    assert 'id="getting-started"' in dashboard
    assert 'data-step="leads" data-done="false"' in dashboard
    assert 'href="/discover"' in dashboard
    leads = (await client.get("/leads")).text
    assert "No leads yet." in leads
    assert 'href="/discover"' in leads
    assert "Import a CSV" in leads
    sequences = (await client.get("/sequences")).text
    assert "No lead is ready for outreach yet" in sequences
    assert 'href="/leads' in sequences
    outbox = (await client.get("/outbox")).text
    assert "Nothing in the outbox yet" in outbox
    assert 'href="/sequences"' in outbox
    replies = (await client.get("/replies")).text
    assert "No replies yet" in replies
    assert 'href="/settings' in replies


async def test_the_checklist_ticks_itself_off_and_goes_once_a_real_email_went_out(
    client, app_runtime
) -> None:
    lead = await _lead(app_runtime, "Rise Bakery", state="approved", email="hello@rise.example")
    html = (await client.get("/")).text
    for step, done in (("leads", "true"), ("analyzed", "true"), ("approved", "true"), ("ready", "false")):
        assert f'data-step="{step}" data-done="{done}"' in html
    assert 'data-step="sender" data-done="false"' in html
    # An email "sent" by the outbox sender (a file) does not finish the journey...
    await SequenceRow.insert(SequenceRow(name="intro"))
    await EmailRow.insert(
        EmailRow(lead=lead, dedupe_key="a", state="sent", sender_backend="outbox", subject="Hi")
    )
    html = (await client.get("/")).text
    assert 'data-step="sequence" data-done="true"' in html
    assert 'id="getting-started"' in html
    # ...one a real sender handed to a server does.
    await EmailRow.insert(
        EmailRow(lead=lead, dedupe_key="b", state="sent", sender_backend="smtp", subject="Hi")
    )
    assert 'id="getting-started"' not in (await client.get("/")).text


# -- review without a detour, make ready ------------------------------------------------


async def test_unanalyzed_rows_say_why_they_cannot_be_reviewed_and_offer_analyze(client, app_runtime) -> None:
    await _lead(app_runtime, "Fresh Import", state="discovered", website_url="https://fresh.example")
    html = (await client.get("/leads")).text
    row = re.search(r'<tr id="lead-\d+"[^>]*>.*?</tr>', html, re.S).group(0)
    assert "Not analyzed yet" in row
    assert 'class="analyze"' in row
    assert 'class="approve"' not in row
    assert "not analyzed yet, so there is nothing to review" in row  # the hint a refused key shows
    assert "1 lead not analyzed yet" in html


async def test_analyze_one_row_queues_a_job_for_it_and_retries_a_failed_one(client, app_runtime) -> None:
    failed = await _lead(app_runtime, "Broken Site", state="failed")
    answer = await client.post(f"/leads/{failed}/analyze", headers=HX)
    assert answer.status_code == 200
    assert "Queued for analysis" in answer.text
    assert 'hx-swap-oob="innerHTML"' in answer.text  # the progress area follows the job
    assert (await app_runtime.leads.get(failed)).lifecycle_state == "discovered"
    jobs = await app_runtime.jobs.list(limit=5)
    assert jobs[0].kind == "analyze"
    assert jobs[0].params == {"lead_ids": [failed]}
    pending = await _lead(app_runtime, "Reviewable", state="pending_review")
    refused = await client.post(f"/leads/{pending}/analyze", headers=HX)
    assert refused.status_code == 422
    assert "only discovered and failed leads are analyzed" in refused.text


async def test_make_ready_one_row_or_all_approved_with_reasons_for_the_rest(client, app_runtime) -> None:
    with_email = await _lead(app_runtime, "Has Mail", state="approved", email="a@has.example")
    without = await _lead(app_runtime, "No Mail", state="approved")
    row = await client.post(f"/leads/{with_email}/ready", headers=HX)
    assert row.status_code == 200
    assert 'data-state="ready_for_outreach"' in row.text
    refused = await client.post(f"/leads/{without}/ready", headers=HX)
    assert refused.status_code == 422
    assert "No Mail was not made ready for outreach: it has no email address" in refused.text
    assert refused.headers["HX-Retarget"] == "#flash"

    others = [
        await _lead(app_runtime, f"Approved {i}", state="approved", email=f"x{i}@a.example") for i in range(3)
    ]
    pending = await _lead(app_runtime, "Still Pending", state="pending_review")
    bulk = await client.post(
        "/leads/bulk",
        data={"action": "ready", "all_matching": "1", "select_state": "approved"},
        headers=HX,
    )
    assert bulk.status_code == 200
    assert "Made ready for outreach: 3 leads." in bulk.text
    assert "has no email address" in bulk.text  # No Mail, skipped with its reason
    for lead_id in others:
        assert (await app_runtime.leads.get(lead_id)).lifecycle_state == "ready_for_outreach"
    assert (await app_runtime.leads.get(pending)).lifecycle_state == "pending_review"
    selected = await client.post("/leads/bulk", data={"action": "ready", "ids": [str(pending)]}, headers=HX)
    assert "is pending_review, not approved" in selected.text


async def test_sequences_page_counts_ready_leads_and_links_to_them(client, app_runtime) -> None:
    await _lead(app_runtime, "Ready One", state="ready_for_outreach", email="r@one.example")
    html = (await client.get("/sequences")).text
    assert 'href="/leads?state=ready_for_outreach"' in html
    assert "1 lead ready for outreach" in html


async def test_lead_panel_hides_internals(client, app_runtime) -> None:
    lead = await _lead(app_runtime, "Quiet Panel", state="discovered")
    await app_runtime.leads.transition(lead, "analyzing", actor="test")
    await app_runtime.leads.transition(lead, "analyzed", actor="test", changes={"failure_reason": None})
    html = (await client.get(f"/leads/{lead}", headers=HX)).text
    assert "Version" not in html
    assert "failure reason: None" not in html
    assert "None" not in re.sub(r"<[^>]+>", "", html)


# -- the Settings form ------------------------------------------------------------------


async def test_settings_form_writes_the_file_keeping_comments_and_applies_at_once(
    client, app_runtime, config_file: Path
) -> None:
    page = (await client.get("/settings")).text
    assert 'id="settings-form"' in page
    assert 'href="#field-compliance.sender_name"' in page  # what is missing links to its field
    saved = await client.post("/settings", data=_form(smtp_password="env:E2E_SMTP_PASSWORD"))
    assert saved.status_code == 200, saved.text
    assert "in effect now" in saved.text
    text = config_file.read_text()
    for kept in ("# Ann's outreach", "# keep me", "# the port I like", "# a comment inside a plugin table"):
        assert kept in text
    assert 'sender_name = "Ann Example"' in text
    assert 'password = "env:E2E_SMTP_PASSWORD"' in text
    assert 'name = "main"' in text
    assert "daily_cap = 25" in text
    # Applied without a restart: the running services see the new settings.
    assert app_runtime.settings.compliance.physical_address == "1 Main St, Springfield, IL 62701"
    assert app_runtime.mailboxes.names() == ["main"]
    assert app_runtime.mailboxes.sender_chain("main") == ["smtp"]
    assert app_runtime.plugins.senders.get("smtp").options("main").port == 2525
    # ...and the file reads back exactly as start-up reads it.
    again = load_settings(config_file)
    assert again.sender.backend == "smtp"
    assert again.mailboxes[0].window == "00:00-24:00"


async def test_a_typed_password_goes_to_the_keyring_never_to_the_file(
    client, app_runtime, config_file: Path, memory_keyring: MemoryKeyring
) -> None:
    saved = await client.post("/settings", data=_form(smtp_password="hunter2-typed"))
    assert saved.status_code == 200, saved.text
    text = config_file.read_text()
    assert "hunter2-typed" not in text
    assert 'password = "keyring:outreach/sender.smtp.password"' in text
    assert memory_keyring.items["outreach", "sender.smtp.password"] == "hunter2-typed"
    assert "hunter2-typed" not in saved.text
    assert app_runtime.plugins.senders.get("smtp").options("main").password.resolve() == "hunter2-typed"


async def test_a_typed_password_without_a_keyring_is_refused_and_nothing_changes(
    client, config_file: Path
) -> None:
    before = config_file.read_text()
    answer = await client.post("/settings", data=_form(smtp_password="hunter2-typed"))
    assert answer.status_code == 422
    assert "no OS keyring" in answer.text
    assert "env:NAME" in answer.text
    assert "hunter2-typed" not in answer.text
    assert config_file.read_text() == before


async def test_settings_are_checked_as_start_up_checks_them(client, app_runtime, config_file: Path) -> None:
    config_file.write_text(CONFIG + "\n[plugins.website]\nmax_pagez = 3\n")
    before = config_file.read_text()
    answer = await client.post("/settings", data=_form())
    assert answer.status_code == 422
    assert "plugins.website.max_pagez" in answer.text
    assert config_file.read_text() == before
    assert app_runtime.settings.compliance.sender_name is None
    # A field the form can judge alone is named beside the field, with the values kept.
    bad = await client.post("/settings", data=_form(**{"mb-0-daily_cap": "lots"}))
    assert bad.status_code == 422
    assert "The daily cap must be a whole number" in bad.text
    assert 'value="Ann Example"' in bad.text


async def test_a_read_only_file_gets_a_clear_message_and_loses_nothing(client, config_file: Path) -> None:
    before = config_file.read_text()
    config_file.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    try:
        answer = await client.post("/settings", data=_form())
    finally:
        config_file.chmod(0o600)
    assert answer.status_code == 422
    assert f"Cannot write {config_file}" in answer.text
    assert "Nothing was changed" in answer.text
    assert 'id="unsaved-config"' in answer.text
    assert "Ann Example" in answer.text
    assert config_file.read_text() == before


async def test_settings_page_shows_listen_address_and_toml(client, app_runtime) -> None:
    app_runtime.listening = "127.0.0.1:54321"
    html = (await client.get("/settings")).text
    assert "<code>127.0.0.1:54321</code>" in html
    assert 'id="config-toml"' in html
    assert "[web]" in html
    assert "port = 8000" in html
    assert "/<wbr>" in html  # paths wrap after a slash, not mid-word


async def test_sequences_warn_before_enrolling_into_a_sender_that_only_writes_files(
    client, app_runtime
) -> None:
    await _lead(app_runtime, "Ready One", state="ready_for_outreach", email="r@one.example")
    await app_runtime.sequences.load_text(
        'name = "intro"\n[[steps]]\nsubject = "Hi"\nbody = "Hello"\n', actor="test"
    )
    html = (await client.get("/sequences")).text
    assert 'id="sender-not-set"' in html
    assert 'href="/settings#field-sender.backend"' in html
    assert "will be written to files, not sent. Enroll anyway?" in html


async def test_settings_page_has_a_deliverability_section(client) -> None:
    html = (await client.get("/settings")).text
    assert 'id="deliverability-section"' in html
    assert 'hx-get="/deliverability"' in html
