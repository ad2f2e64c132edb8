"""Answering a reply from its page: the answer goes through the outbox to a real SMTP sink (and to a
Gmail API on loopback) as a threaded reply from the thread's mailbox, without the cold-email footer,
DKIM-signed, audited and on the lead's history; a suppressed address is never written to."""

from __future__ import annotations

import asyncio
import re

import pytest
from engine_helpers import LEGAL, Clock, enrolled, mailbox, ready_leads, with_legal
from inbound_helpers import dsn, reply
from litestar.testing import AsyncTestClient
from local_dns import DnsServer
from mail_servers import Sink, SinkHandler
from support.fake_google import gmail_sender_settings, running_google
from test_dkim import DOMAIN, KEY_ENV, SELECTOR, key_record, verify

from outreach.kernel import LEGAL_HOLD, InboundMessage
from outreach.kernel.models import ANSWER_EMAIL
from outreach.kernel.services import audit, stats
from outreach.kernel.services.answers import AnswerRefused, AnswerService
from outreach.kernel.states import EmailState
from outreach.kernel.store.tables import EmailRow, EnrollmentRow
from outreach.web import create_app

ADDRESS = LEGAL["compliance"]["physical_address"]


@pytest.fixture
def make_settings(make_settings):
    return with_legal(make_settings)


@pytest.fixture
async def sink():
    server = await Sink(SinkHandler()).start()
    yield server
    await server.stop()


@pytest.fixture(scope="module")
def key():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
async def dns_server(key):
    server = await DnsServer({f"{SELECTOR}._domainkey.{DOMAIN}": {"TXT": [key_record(key)]}}).start()
    yield server
    server.close()


def _csrf(html: str) -> str:
    return re.search(r'"x-csrftoken": "([^"]+)"', html).group(1)


def _token(html: str) -> str:
    return re.search(r'name="token" value="([0-9a-f]+)"', html).group(1)


async def smtp_runtime(make_settings, make_runtime, sink, *, dkim_key: str | None = None):
    smtp = {"host": "127.0.0.1", "port": sink.port, "timeout": 5}
    if dkim_key:
        smtp.update(dkim_selector=SELECTOR, dkim_private_key=dkim_key)
    rt = await make_runtime(
        make_settings(
            sender={"backend": "smtp", "smtp": smtp},
            mailboxes=[mailbox()],
            sending={"rate_limit_per_minute": 0},
        )
    )
    rt.clock = Clock()
    return rt


async def replied(rt, text: str = "Yes, we are interested. What would it cost?"):
    """One lead sent its first email, and the reply it wrote back processed: (email, inbound record)."""
    firsts = await enrolled(rt, 1)
    assert (await rt.outbox.run_until_idle()).sent == 1
    email = await rt.emails.get(next(iter(firsts.values())))
    record = await rt.inbound.process(
        InboundMessage(raw=reply(email, text, message_id="<answer-me@mail.lead.example>"), source="imap:main")
    )
    assert record is not None
    assert record.email_id == email.id
    return email, record


async def answer_on_the_page(client, inbound_id: int, text: str):
    page = await client.get(f"/replies/{inbound_id}")
    assert page.status_code == 200
    assert 'id="answer-form"' in page.text
    headers = {"HX-Request": "true", "x-csrftoken": _csrf(page.text)}
    data = {"text": text, "token": _token(page.text)}
    return await client.post(f"/replies/{inbound_id}/answer", data=data, headers=headers), data, headers


async def test_an_answer_goes_out_threaded_from_the_mailbox_without_the_footer_and_signed(
    make_settings, make_runtime, sink, dns_server, key, tmp_path, monkeypatch
) -> None:
    from cryptography.hazmat.primitives import serialization

    path = tmp_path / "dkim.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    monkeypatch.setenv(KEY_ENV, str(path))
    rt = await smtp_runtime(make_settings, make_runtime, sink, dkim_key=f"env:{KEY_ENV}")
    email, record = await replied(rt)
    cold = sink.handler.received[0].message
    # The cold email has the footer and the unsubscribe headers.
    assert cold["List-Unsubscribe"]
    assert ADDRESS in cold.get_body(("plain",)).get_content()
    before = await stats.engagement()

    async with AsyncTestClient(app=create_app(rt)) as client:
        answered, data, headers = await answer_on_the_page(
            client, record.id, "Hello!\nIt costs <b>50</b> a month."
        )
        assert answered.status_code == 200
        assert "<h1>" not in answered.text  # the conversation fragment only
        assert 'id="answer-queued"' in answered.text
        assert "We answered" in answered.text
        assert "It costs &lt;b&gt;50&lt;/b&gt; a month." in answered.text
        assert "<b>50</b>" not in answered.text
        # The same form sent again (a double click) queues nothing more.
        again = await client.post(f"/replies/{record.id}/answer", data=data, headers=headers)
        assert again.status_code == 200
        answers = await EmailRow.select().where(EmailRow.kind == ANSWER_EMAIL)
        assert len(answers) == 1
        answer_id = answers[0]["id"]
        queued = await rt.emails.get(answer_id)
        assert (queued.state, queued.sequence_id, queued.step_number) == (EmailState.QUEUED, None, 0)

        sent = await rt.outbox.run_until_idle()
        assert (sent.sent, sent.cancelled) == (1, 0)
        [received] = sink.handler.received[1:]
        message = received.message
        assert received.rcpt_tos == ["owner0@lead0.example"]
        assert message["In-Reply-To"] == "<answer-me@mail.lead.example>"
        assert message["References"].split() == [email.message_id, "<answer-me@mail.lead.example>"]
        assert message["Subject"] == f"Re: {email.subject}"
        assert str(message["From"]) == "Ann Example <ann@main.example>"
        assert message["Message-ID"] == queued.message_id
        assert message["List-Unsubscribe"] is None
        assert message["List-Unsubscribe-Post"] is None
        text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert text.startswith("Hello!\nIt costs <b>50</b> a month.")
        assert "> Yes, we are interested. What would it cost?" in text
        for footer in (ADDRESS, "Unsubscribe", "/u/", "right to object"):
            assert footer not in text
        assert message.get_content_type() == "text/plain"
        assert message["DKIM-Signature"] is not None
        # The DNS server answers on this event loop: verify from a thread.
        assert await asyncio.to_thread(verify, received.raw, dns_server.port)

        done = await rt.emails.get(answer_id)
        assert (done.state, done.kind) == (EmailState.SENT, ANSWER_EMAIL)
        email_trail = [(e.action, e.actor) for e in await audit.trail("email", answer_id)]
        assert email_trail[0] == ("queued", "web")
        assert "transition:sending->sent" in [a for a, _ in email_trail]
        lead_trail = await audit.trail("lead", email.lead_id)
        assert [
            (e.action, e.actor, e.new_value["email_id"]) for e in lead_trail if e.action == "answered"
        ] == [("answered", "web", answer_id)]
        assert [e.action for e in await audit.trail("inbound", record.id)][-1] == "answered"

        # The inbox marks the message answered; the thread shows the answer as sent; the lead's
        # page lists it and has it in its history.
        inbox = await client.get("/replies")
        assert re.search(
            rf'<tr id="inbound-{record.id}"[^>]*>(?:(?!</tr>).)*>answered</span>', inbox.text, re.S
        )
        thread = await client.get(f"/replies/{record.id}")
        assert re.search(
            rf'data-email-id="{answer_id}" data-answer>\s*<header><strong>We answered', thread.text
        )
        lead_page = await client.get(f"/leads/{email.lead_id}")
        assert f"Re: {email.subject}" in lead_page.text
        assert re.search(rf'data-email-id="{answer_id}" data-kind="answer"><td>answer</td>', lead_page.text)
        history = rf"<td>web</td>\s*<td>answered\s*<span[^>]*>inbound id: {record.id}; email id: {answer_id};"
        assert re.search(history, lead_page.text)

    # The cold-email figures do not count it, and the reply's stop of the sequence stands.
    assert await stats.engagement() == before
    assert (await EnrollmentRow.select(EnrollmentRow.state).first())["state"] == "stopped"


async def test_a_suppressed_address_is_refused_clearly_and_never_reaches_the_server(
    make_settings, make_runtime, sink
) -> None:
    rt = await smtp_runtime(make_settings, make_runtime, sink)
    _email, record = await replied(rt)
    await rt.suppressions.add("owner0@lead0.example", reason="unsubscribed", actor="test")
    async with AsyncTestClient(app=create_app(rt)) as client:
        refused, _data, _headers = await answer_on_the_page(client, record.id, "Just one more thing.")
        assert refused.status_code == 409
        assert refused.headers["HX-Retarget"] == "#flash"
        assert "owner0@lead0.example is on the suppression list" in refused.text
        assert "take the address off the Suppression list first" in refused.text
        assert "Traceback" not in refused.text
    assert await EmailRow.count().where(EmailRow.kind == ANSWER_EMAIL) == 0

    # Suppressed after the answer was queued: the outbox cancels it before any server sees it.
    await rt.suppressions.remove((await rt.suppressions.list()).items[0].id, actor="test")
    queued = await AnswerService(rt).answer(record.id, "Just one more thing.", token="t1", actor="test")
    await rt.suppressions.add("owner0@lead0.example", reason="unsubscribed", actor="test")
    result = await rt.outbox.run_until_idle()
    assert (result.sent, result.cancelled) == (0, 1)
    cancelled = await rt.emails.get(queued.id)
    assert cancelled.state == EmailState.CANCELLED
    assert "suppression list" in cancelled.last_error
    assert len(sink.handler.received) == 1  # only the cold email


async def test_what_cannot_be_answered_says_why(make_settings, make_runtime, sink) -> None:
    rt = await smtp_runtime(make_settings, make_runtime, sink)
    email, record = await replied(rt)
    bounce = await rt.inbound.process(
        InboundMessage(
            raw=dsn(email, status="5.1.1", diagnostic="550 5.1.1 User unknown"), source="imap:main"
        )
    )
    service = AnswerService(rt)
    with pytest.raises(AnswerRefused, match="nobody to answer"):
        await service.answer(bounce.id, "Hi", token="t", actor="test")
    with pytest.raises(Exception, match="The answer is empty"):
        await service.answer(record.id, "  \n ", token="t", actor="test")
    async with AsyncTestClient(app=create_app(rt)) as client:
        page = await client.get(f"/replies/{bounce.id}")
        assert 'id="answer-form"' not in page.text
        assert "nobody to answer" in page.text
        # A form without its CSRF token is refused in words.
        bare = await client.post(f"/replies/{record.id}/answer", data={"text": "Hi", "token": "x"})
        assert bare.status_code == 403
    assert await EmailRow.count().where(EmailRow.kind == ANSWER_EMAIL) == 0


@pytest.fixture
def google():
    with running_google() as state:
        yield state


async def test_the_gmail_sender_answers_in_the_threads_gmail_thread(
    google, make_settings, make_runtime
) -> None:
    # A sending window of two hours: the cold email goes in it, the answer hours after it closed.
    rt = await make_runtime(
        make_settings(mailboxes=[mailbox(window="14:00-16:00")], **gmail_sender_settings(google))
    )
    clock = rt.clock = Clock()
    firsts = await enrolled(rt, 1)
    assert (await rt.outbox.run_until_idle()).sent == 1
    email = await rt.emails.get(next(iter(firsts.values())))
    assert email.provider_thread_id == "thread-1"
    google.deliver(reply(email, "Sounds good, send me the details.", message_id="<g@mail.lead.example>"))
    assert (await rt.poller.poll_once()).processed == 1
    [record] = (await rt.inbound.list()).items
    clock.advance(hours=4)

    async with AsyncTestClient(app=create_app(rt)) as client:
        answered, _data, _headers = await answer_on_the_page(client, record.id, "Here they are.")
        assert answered.status_code == 200
    assert (await rt.outbox.run_until_idle()).sent == 1
    sent = google.sent[-1]
    assert sent["payload"]["threadId"] == "thread-1"
    assert sent["message"]["In-Reply-To"] == "<g@mail.lead.example>"
    assert sent["message"]["Subject"] == f"Re: {email.subject}"
    assert sent["message"]["List-Unsubscribe"] is None


async def test_the_cold_email_settings_do_not_hold_an_answer_back(make_settings, make_runtime, sink) -> None:
    rt = await smtp_runtime(make_settings, make_runtime, sink)
    _email, record = await replied(rt)
    # The same outreach without a sender name or postal address: cold email waits, an answer goes.
    bare = await make_runtime(
        make_settings(
            sender={"backend": "smtp", "smtp": {"host": "127.0.0.1", "port": sink.port, "timeout": 5}},
            mailboxes=[mailbox()],
            sending={"rate_limit_per_minute": 0},
            compliance={"sender_name": "", "physical_address": ""},
        )
    )
    bare.clock = rt.clock
    [lead_id] = await ready_leads(bare, 1, email=lambda i: "new@lead9.example", business_name="Newcomer")
    await bare.enrollment.enroll("intro", [lead_id], actor="test")
    queued = await AnswerService(bare).answer(record.id, "Of course.", token="t", actor="test")
    result = await bare.outbox.run_until_idle()
    assert (result.sent, result.deferred) == (1, 1)
    assert (await bare.emails.get(queued.id)).state == EmailState.SENT
    assert [r.rcpt_tos for r in sink.handler.received[1:]] == [["owner0@lead0.example"]]
    [cold] = await bare.emails.for_lead(lead_id)
    assert cold.state == EmailState.QUEUED
    assert cold.last_error.startswith(LEGAL_HOLD)


async def test_a_new_reply_or_a_stopped_sequence_leaves_a_queued_answer_queued(
    make_settings, make_runtime, sink
) -> None:
    rt = await smtp_runtime(make_settings, make_runtime, sink)
    email, record = await replied(rt)
    queued = await AnswerService(rt).answer(record.id, "Thanks, here is our offer.", token="t2", actor="test")
    # They write again before the answer went out: their sequence stops, the answer stays.
    await rt.inbound.process(
        InboundMessage(raw=reply(email, "One more thing: we open at 9."), source="imap:main")
    )
    await rt.enrollment.stop(email.lead_id, "a person stopped it", actor="test")
    assert (await rt.emails.get(queued.id)).state == EmailState.QUEUED
    assert (await rt.outbox.run_until_idle()).sent == 1
    assert (await rt.emails.get(queued.id)).state == EmailState.SENT
