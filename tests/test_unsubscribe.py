"""Unsubscribing: the link's page and its button, a mail client's one-click POST (RFC 8058), forged
tokens, an app behind an access token, and a suppressed address never reaching the SMTP server."""

from __future__ import annotations

import email
import re
from email import policy

import pytest
from engine_helpers import Clock, enrolled, mailbox, with_legal
from litestar.testing import AsyncTestClient
from mail_servers import Sink, SinkHandler

from outreach.kernel.services import audit
from outreach.kernel.store.tables import EnrollmentRow, SuppressionRow
from outreach.web import create_app

TOKEN = "an-access-token-for-tests"


@pytest.fixture
def make_settings(make_settings):
    return with_legal(make_settings)


@pytest.fixture
async def sink():
    server = await Sink(SinkHandler()).start()
    yield server
    await server.stop()


def unsubscribe_path(message: email.message.EmailMessage) -> str:
    header = message["List-Unsubscribe"]
    return re.match(r"<https://outreach\.example(/u/[^>]+)>", header).group(1)


async def smtp_runtime(make_settings, make_runtime, sink, monkeypatch, **web):
    monkeypatch.setenv("OUTREACH_TEST_TOKEN", TOKEN)
    rt = await make_runtime(
        make_settings(
            sender={"backend": "smtp", "smtp": {"host": "127.0.0.1", "port": sink.port, "timeout": 5}},
            mailboxes=[mailbox()],
            sending={"rate_limit_per_minute": 0},
            web={"access_token": "env:OUTREACH_TEST_TOKEN", **web},
        )
    )
    clock = Clock()
    rt.clock = clock
    return rt, clock


async def test_one_click_and_the_page_suppress_at_once_and_the_smtp_server_never_sees_them_again(
    make_settings, make_runtime, sink, monkeypatch
) -> None:
    rt, clock = await smtp_runtime(make_settings, make_runtime, sink, monkeypatch)
    firsts = await enrolled(rt, 3)
    assert (await rt.outbox.run_until_idle()).sent == 3
    received = {r.rcpt_tos[0]: r.message for r in sink.handler.received}
    one_click = unsubscribe_path(received["owner0@lead0.example"])
    by_page = unsubscribe_path(received["owner1@lead1.example"])

    async with AsyncTestClient(app=create_app(rt)) as client:
        # The app wants its access token everywhere else...
        assert (await client.get("/leads", follow_redirects=False)).status_code == 303
        refused = await client.post("/suppressions", data={"email": "x@y.example"}, follow_redirects=False)
        assert refused.status_code == 303
        assert refused.headers["location"].startswith("/login")
        # ...but a mail client's one-click POST needs neither the token nor a CSRF cookie.
        answer = await client.post(
            one_click,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert answer.status_code == 200
        assert "You are unsubscribed" in answer.text

        # The link's page asks first: a link scanner's GET changes nothing.
        page = await client.get(by_page)
        assert page.status_code == 200
        assert "o***1@lead1.example" in page.text
        assert "owner1@lead1.example" not in page.text
        assert 'id="confirm-unsubscribe"' in page.text
        assert "Dashboard" not in page.text  # nothing of the app shows
        assert not await rt.suppressions.is_suppressed("owner1@lead1.example")
        confirmed = await client.post(by_page)
        assert confirmed.status_code == 200
        assert "You are unsubscribed" in confirmed.text
        assert "You are unsubscribed" in (await client.get(by_page)).text

    entries = {s.email: s for s in (await rt.suppressions.list()).items}
    assert entries["owner0@lead0.example"].source == "one-click"
    assert entries["owner1@lead1.example"].source == "unsubscribe page"
    trail = await audit.trail("suppression", entries["owner0@lead0.example"].id)
    assert (trail[0].action, trail[0].actor) == ("added", "recipient")
    stopped = {r["lead"] for r in await EnrollmentRow.select().where(EnrollmentRow.state == "stopped")}
    assert stopped == {lead for lead in sorted(firsts)[:2]}

    # Follow-ups are due: only the lead that did not unsubscribe gets one.
    sink.handler.received.clear()
    clock.advance(days=3)
    assert (await rt.outbox.run_until_idle()).sent == 1
    assert [r.rcpt_tos for r in sink.handler.received] == [["owner2@lead2.example"]]
    # Enrolling them again is refused, and nothing else reaches the server.
    lead_ids = sorted(firsts)[:2]
    await rt.sequences.load_text(
        'name = "again"\n[[steps]]\nsubject = "Hi"\nbody = "Hello again {{ business_name }}"\n', actor="test"
    )
    result = await rt.enrollment.enroll("again", lead_ids, actor="test")
    assert set(result.skipped) == set(lead_ids)
    await rt.outbox.run_until_idle()
    assert [r.rcpt_tos for r in sink.handler.received] == [["owner2@lead2.example"]]


async def test_forged_and_altered_unsubscribe_tokens_get_404_and_change_nothing(
    make_settings, make_runtime, sink, monkeypatch
) -> None:
    rt, _clock = await smtp_runtime(make_settings, make_runtime, sink, monkeypatch)
    await enrolled(rt, 1)
    await rt.outbox.run_until_idle()
    real = unsubscribe_path(sink.handler.received[0].message)
    token = real.rsplit("/", 1)[1]
    altered = token[:5] + ("B" if token[5] != "B" else "C") + token[6:]
    async with AsyncTestClient(app=create_app(rt)) as client:
        for path in (f"/u/{altered}", "/u/AQ" + "A" * 22, "/u/1", "/u/"):
            get = await client.get(path)
            post = await client.post(path, content=b"List-Unsubscribe=One-Click")
            assert get.status_code == 404, path
            assert post.status_code in (404, 405), path
            assert "Traceback" not in get.text + post.text
        # Only the recipient paths are open: nothing else is reachable through them.
        assert (await client.get("/t/../leads", follow_redirects=False)).status_code in (303, 404)
    assert await SuppressionRow.count() == 0


async def test_the_footer_link_is_the_same_page(make_settings, make_runtime, sink, monkeypatch) -> None:
    rt, _clock = await smtp_runtime(make_settings, make_runtime, sink, monkeypatch)
    await enrolled(rt, 1)
    await rt.outbox.run_until_idle()
    message = sink.handler.received[0].message
    text = message.get_body(("plain",)).get_content()
    path = unsubscribe_path(message)
    assert f"Unsubscribe: https://outreach.example{path}" in text
    parsed = email.message_from_bytes(sink.handler.received[0].raw, policy=policy.default)
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
