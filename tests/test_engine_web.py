"""The engine's pages through Litestar's test client: sequences, the template editor's live preview,
mailboxes with a test email, and the outbox's actions, all CSRF-protected."""

from __future__ import annotations

import re

import pytest
from engine_helpers import SEQUENCE, Clock, enrolled, mailbox, ready_leads
from litestar.testing import AsyncTestClient

from outreach.kernel.store.tables import EmailRow
from outreach.web import create_app

HX = {"HX-Request": "true"}


@pytest.fixture
async def rt(make_settings, make_runtime):
    runtime = await make_runtime(make_settings(mailboxes=[mailbox()], sending={"rate_limit_per_minute": 0}))
    runtime.clock = Clock()
    return runtime


@pytest.fixture
async def client(rt):
    async with AsyncTestClient(app=create_app(rt)) as client:
        yield client


async def token(client: AsyncTestClient, path: str = "/outbox") -> str:
    match = re.search(r'"x-csrftoken": "([^"]+)"', (await client.get(path)).text)
    assert match
    return match.group(1)


async def test_pages_and_navigation(client) -> None:
    page = await client.get("/")
    assert 'href="/sequences"' in page.text
    assert 'href="/outbox"' in page.text
    for path in ("/sequences", "/templates", "/templates/new", "/mailboxes", "/outbox"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.text.startswith("<!doctype html>")
    mailboxes = (await client.get("/mailboxes")).text
    assert "Ann Example &lt;ann@main.example&gt;" in mailboxes
    assert "outbox" in mailboxes


async def test_load_a_sequence_from_the_form_and_see_problems_beside_it(client, rt) -> None:
    csrf = await token(client, "/sequences")
    loaded = await client.post("/sequences/load", data={"toml": SEQUENCE, "_csrf_token": csrf})
    assert loaded.status_code == 200
    assert "Loaded sequence &#39;intro&#39; with 2 step(s)." in loaded.text
    assert (await rt.sequences.find("intro")).steps[1].delay_days == 2
    broken = await client.post(
        "/sequences/load",
        data={"toml": 'name = "x"\n[[steps]]\nsubject = "Hi {{ nmae }}"\nbody = "b"\n', "_csrf_token": csrf},
    )
    assert broken.status_code == 422
    assert "Step 1: The subject uses &#39;nmae&#39;, which is not a variable." in broken.text
    refused = await client.post("/sequences/load", data={"toml": SEQUENCE})
    assert refused.status_code == 403


async def test_enroll_ready_leads_and_preview_a_sequence_for_a_lead(client, rt) -> None:
    await rt.sequences.load_text(SEQUENCE, actor="test")
    ids = await ready_leads(rt, 2, contact_name="Dana Smith")
    sequence = await rt.sequences.find("intro")
    csrf = await token(client, "/sequences")
    enrolled_fragment = await client.post(
        f"/sequences/{sequence.id}/enroll", headers={**HX, "x-csrftoken": csrf}
    )
    assert "Enrolled 2 lead(s)" in enrolled_fragment.text
    assert "<html" not in enrolled_fragment.text
    detail = await client.get(f"/sequences/{sequence.id}?lead={ids[0]}")
    assert "A question for Business 0" in detail.text
    assert "Re: A question for Business 0" in detail.text
    assert "Hi Dana," in detail.text


async def test_template_editor_previews_live_and_refuses_to_save_problems(client, rt) -> None:
    (lead_id,) = await ready_leads(rt, 1, contact_name="Dana Smith")
    csrf = await token(client, "/templates/new")
    preview = await client.post(
        "/templates/preview",
        data={
            "subject": "Hi {{ business_name }}",
            "body_text": "Hello {{ first_name }}",
            "lead_id": str(lead_id),
        },
        headers={**HX, "x-csrftoken": csrf},
    )
    assert "Hi Business 0" in preview.text
    assert "Hello Dana" in preview.text
    assert "<html" not in preview.text
    problem = await client.post(
        "/templates/preview",
        data={"subject": "Hi", "body_text": "{{ ''.__class__ }}", "lead_id": str(lead_id)},
        headers={**HX, "x-csrftoken": csrf},
    )
    assert "__class__" in problem.text
    assert "may not use" in problem.text
    refused = await client.post(
        "/templates/save",
        data={"name": "intro", "subject": "Hi", "body_text": "Hi {{ contact_name }}", "_csrf_token": csrf},
    )
    assert refused.status_code == 422
    assert "some leads do not have" in refused.text
    assert await rt.templates.list() == []
    saved = await client.post(
        "/templates/save",
        data={
            "name": "intro",
            "subject": "Hi",
            "body_text": "Hi {{ first_name | default('there') }}",
            "_csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    (template,) = await rt.templates.list()
    assert saved.headers["location"] == f"/templates/{template.id}?saved=1"
    assert "Saved." in (await client.get(saved.headers["location"])).text


async def test_mailbox_test_email_goes_out_through_its_sender(client, rt, data_dir) -> None:
    csrf = await token(client, "/mailboxes")
    sent = await client.post(
        "/mailboxes/main/test", data={"to": "me@example.com"}, headers={**HX, "x-csrftoken": csrf}
    )
    assert sent.status_code == 200
    assert "Sent through outbox" in sent.text
    (eml,) = (data_dir / "outbox").glob("*.eml")
    assert b"To: me@example.com" in eml.read_bytes()
    bad = await client.post(
        "/mailboxes/main/test", data={"to": "nobody"}, headers={**HX, "x-csrftoken": csrf}
    )
    assert bad.status_code == 400
    assert "is not an email address" in bad.text


async def test_outbox_filter_retry_cancel_and_settle_interrupted_sends(client, rt) -> None:
    firsts = await enrolled(rt, 4)
    ids = sorted(firsts.values())
    await EmailRow.update({EmailRow.state: "failed", EmailRow.last_error: "550 no such user"}).where(
        EmailRow.id == ids[0]
    )
    await EmailRow.update(
        {EmailRow.state: "sending", EmailRow.needs_attention: True, EmailRow.last_error: "interrupted"}
    ).where(EmailRow.id.is_in(ids[2:]))
    page = await client.get("/outbox")
    assert "Needs attention" in page.text
    assert page.text.count('hx-post="/outbox/') >= 4
    filtered = await client.get("/outbox?state=failed", headers=HX)
    assert f'id="email-{ids[0]}"' in filtered.text
    assert f'id="email-{ids[1]}"' not in filtered.text
    csrf = await token(client)
    headers = {**HX, "x-csrftoken": csrf}
    retried = await client.post(f"/outbox/{ids[0]}/retry", headers=headers)
    assert 'data-state="queued"' in retried.text
    cancelled = await client.post(f"/outbox/{ids[1]}/cancel", headers=headers)
    assert 'data-state="cancelled"' in cancelled.text
    marked = await client.post(f"/outbox/{ids[2]}/mark-sent", headers=headers)
    assert 'data-state="sent"' in marked.text
    requeued = await client.post(f"/outbox/{ids[3]}/requeue", headers=headers)
    assert 'data-state="queued"' in requeued.text
    illegal = await client.post(f"/outbox/{ids[2]}/cancel", headers=headers)
    assert illegal.status_code == 409
    assert "cannot go from" in illegal.text
    forged = await client.post(f"/outbox/{ids[0]}/cancel", headers={**HX, "x-csrftoken": "forged"})
    assert forged.status_code == 403
    assert (await rt.emails.get(ids[0])).state == "queued"
