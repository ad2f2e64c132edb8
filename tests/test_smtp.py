"""The smtp sender against a real aiosmtpd on loopback: STARTTLS, implicit TLS, AUTH, MIME as the
server parsed it, threading, reply codes, dropped connections, and failover."""

from __future__ import annotations

import os
import socket

import pytest
from engine_helpers import Clock, enrolled, mailbox, with_legal
from mail_servers import Faults, Sink, SinkHandler, make_certificate, server_context

from outreach.kernel.services import audit
from outreach.kernel.services.outbox import actions

PASSWORD_ENV = "OUTREACH_TEST_SMTP_PASSWORD"


@pytest.fixture
def make_settings(make_settings):
    """Settings a sender of real mail may send with (the compliance checks hold mail back without them)."""
    return with_legal(make_settings)


@pytest.fixture
def certificate(tmp_path):
    return make_certificate(tmp_path)


@pytest.fixture
async def tls_sink(certificate):
    cert, key = certificate
    handler = SinkHandler()
    sink = await Sink(handler, tls_context=server_context(cert, key), users={"ann": "s3cret"}).start()
    os.environ[PASSWORD_ENV] = "s3cret"
    yield sink
    await sink.stop()
    os.environ.pop(PASSWORD_ENV, None)


def smtp_settings(port: int, cert=None, **extra):
    options = {"host": "127.0.0.1", "port": port, "timeout": 5}
    if cert is not None:
        options.update(starttls=True, cert_bundle=str(cert), username="ann", password=f"env:{PASSWORD_ENV}")
    options.update(extra)
    return options


async def test_starttls_auth_mime_threading_and_headers_as_the_server_parsed_them(
    tls_sink, certificate, make_settings, make_runtime
) -> None:
    cert, _ = certificate
    settings = make_settings(
        sender={"backend": "smtp", "smtp": smtp_settings(tls_sink.port, cert)},
        mailboxes=[mailbox()],
        sending={"rate_limit_per_minute": 0},
    )
    rt = await make_runtime(settings)
    clock = Clock()
    rt.clock = clock
    firsts = await enrolled(rt, 2, contact_name=lambda i: "DANA SMITH" if i == 0 else None)
    stats = await rt.outbox.run_until_idle()
    assert stats.sent == 2
    received = tls_sink.handler.received
    assert len(received) == 2
    assert all(r.tls and r.authenticated_as == "ann" for r in received)
    first = await rt.emails.get(firsts[min(firsts)])
    parsed = next(r.message for r in received if r.message["Message-ID"] == first.message_id)
    assert parsed["From"] == "Ann Example <ann@main.example>"
    assert parsed["To"] == "owner0@lead0.example"
    assert parsed["Subject"] == "A question for Business 0"
    assert parsed["Date"]
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The built-in compliance plugin's headers and footer, as the server received them.
    assert parsed["List-Unsubscribe"].startswith("<https://outreach.example/u/")
    assert parsed["List-Unsubscribe"].endswith(", <mailto:ann@main.example?subject=unsubscribe>")
    assert parsed.get_content_type() == "multipart/alternative"
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert text.startswith("Hi Dana,")
    assert "Unsubscribe: https://outreach.example/u/" in text
    assert "Ann Example · 1 Main St, Springfield, IL 62701" in text
    assert "<p>Hi Dana,</p>" in html
    assert '<a href="https://outreach.example/u/' in html
    assert received[0].mail_from == "ann@main.example"
    assert received[0].rcpt_tos[0].startswith("owner")

    # Two business days later (Monday -> Wednesday) the follow-ups go out, threaded.
    clock.advance(days=2, hours=1)
    stats = await rt.outbox.run_until_idle()
    assert stats.followups == 2
    assert stats.sent == 2
    follow = next(
        r.message for r in tls_sink.handler.received[2:] if r.message["In-Reply-To"] == first.message_id
    )
    assert follow["Subject"] == "Re: A question for Business 0"
    assert follow["References"] == first.message_id
    assert follow.get_content_type() == "text/plain"
    assert "Just following up on my note about Business 0." in follow.get_content()
    assert tls_sink.handler.message_ids().most_common(1)[0][1] == 1


async def test_connection_is_reused_between_messages(
    tls_sink, certificate, make_settings, make_runtime
) -> None:
    connections = []
    original = tls_sink._protocol

    def counting():
        connections.append(1)
        return original()

    tls_sink._protocol = counting
    await tls_sink.stop()
    await tls_sink.start()
    cert, _ = certificate
    rt = await make_runtime(
        make_settings(
            sender={"backend": "smtp", "smtp": smtp_settings(tls_sink.port, cert)},
            mailboxes=[mailbox()],
            sending={"rate_limit_per_minute": 0},
        )
    )
    await enrolled(rt, 5)
    assert (await rt.outbox.run_until_idle()).sent == 5
    assert len(tls_sink.handler.received) == 5
    assert len(connections) == 1


async def test_implicit_tls(certificate, make_settings, make_runtime) -> None:
    cert, key = certificate
    sink = await Sink(SinkHandler(), tls_context=server_context(cert, key), implicit_tls=True).start()
    try:
        rt = await make_runtime(
            make_settings(
                sender={
                    "backend": "smtp",
                    "smtp": smtp_settings(sink.port, tls=True, starttls=False, cert_bundle=str(cert)),
                },
                mailboxes=[mailbox()],
            )
        )
        await enrolled(rt, 1)
        assert (await rt.outbox.run_until_idle()).sent == 1
        assert sink.handler.received[0].tls
    finally:
        await sink.stop()


async def test_a_refused_login_keeps_the_email_queued_without_counting_a_try(
    tls_sink, certificate, make_settings, make_runtime
) -> None:
    cert, _ = certificate
    os.environ[PASSWORD_ENV] = "wrong"
    rt = await make_runtime(
        make_settings(
            sender={"backend": "smtp", "smtp": smtp_settings(tls_sink.port, cert)}, mailboxes=[mailbox()]
        )
    )
    firsts = await enrolled(rt, 1)
    stats = await rt.outbox.run_until_idle()
    assert stats.sent == 0
    email = await rt.emails.get(next(iter(firsts.values())))
    assert email.state == "queued"
    assert email.attempts == 0
    assert "refused the login for ann" in email.last_error
    assert email.due_at > rt.clock()
    assert tls_sink.handler.received == []


async def test_reply_codes_map_to_retry_and_failure_with_the_server_words(
    make_settings, make_runtime
) -> None:
    handler = SinkHandler(Faults(transient=1.0))
    sink = await Sink(handler).start()
    try:
        rt = await make_runtime(
            make_settings(
                sender={"backend": "smtp", "smtp": smtp_settings(sink.port)},
                mailboxes=[mailbox()],
                sending={"retry_base_seconds": 60, "max_attempts": 2},
            )
        )
        clock = Clock()
        rt.clock = clock
        firsts = await enrolled(rt, 1)
        email_id = next(iter(firsts.values()))
        await rt.outbox.run_until_idle()
        email = await rt.emails.get(email_id)
        assert email.state == "queued"
        assert email.attempts == 1
        assert "451 4.3.0 Try again later" in email.last_error
        assert email.due_at > clock.now
        # The second deferral is the last try allowed: the email fails with the reply kept.
        clock.advance(minutes=5)
        await rt.outbox.run_until_idle()
        email = await rt.emails.get(email_id)
        assert email.state == "failed"
        assert "451 4.3.0 Try again later" in email.last_error
        assert "gave up after 2 tries" in email.last_error

        handler.faults = Faults(permanent=1.0)
        await actions.retry(rt, email_id, actor="test")
        await rt.outbox.run_until_idle()
        email = await rt.emails.get(email_id)
        assert email.state == "failed"
        assert "550 5.1.1" in email.last_error
        assert "owner0@lead0.example" not in email.last_error  # the reply is kept, the address is not
        assert "<[recipient]>: Recipient address rejected" in email.last_error
        assert "User unknown" in email.last_error
        trail = await audit.trail("email", email_id)
        assert [e.action for e in trail][-1] == "transition:sending->failed"
        assert handler.received == []
    finally:
        await sink.stop()


async def test_a_connection_lost_after_the_message_was_accepted_is_never_resent(
    make_settings, make_runtime
) -> None:
    handler = SinkHandler(Faults(drop_after_accept=1.0))
    sink = await Sink(handler).start()
    try:
        rt = await make_runtime(
            make_settings(
                sender={"backend": "smtp", "smtp": smtp_settings(sink.port)},
                mailboxes=[mailbox()],
                sending={"reconcile_after_seconds": 0},
            )
        )
        firsts = await enrolled(rt, 1)
        email_id = next(iter(firsts.values()))
        stats = await rt.outbox.run_until_idle()
        assert stats.uncertain == 1
        for _ in range(3):
            await rt.outbox.run_until_idle()
        email = await rt.emails.get(email_id)
        assert email.state == "sending"
        assert email.needs_attention
        assert "Sent folder" in email.last_error
        assert len(handler.received) == 1  # accepted once, never sent again
        page = await rt.emails.list(needs_attention=True)
        assert [e.id for e in page.items] == [email_id]
        settled = await actions.mark_sent(rt, email_id, actor="test")
        assert settled.state == "sent"
        assert not settled.needs_attention
    finally:
        await sink.stop()


async def test_failover_takes_over_when_the_primary_is_down_and_only_then(
    make_settings, make_runtime, data_dir
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    rt = await make_runtime(
        make_settings(
            sender={"backend": "smtp", "failover": ["outbox"], "smtp": smtp_settings(dead_port)},
            mailboxes=[mailbox()],
        )
    )
    firsts = await enrolled(rt, 2)
    stats = await rt.outbox.run_until_idle()
    assert stats.sent == 2
    for email_id in firsts.values():
        email = await rt.emails.get(email_id)
        assert email.state == "sent"
        assert email.sender_backend == "outbox"
    assert len(list((data_dir / "outbox").glob("*.eml"))) == 2

    # A permanent refusal by a primary that is up is final: no failover.
    handler = SinkHandler(Faults(permanent=1.0))
    sink = await Sink(handler).start()
    try:
        rt2 = await make_runtime(
            make_settings(
                data_dir=str(data_dir / "second"),
                sender={"backend": "smtp", "failover": ["outbox"], "smtp": smtp_settings(sink.port)},
                mailboxes=[mailbox("second")],
            )
        )
        firsts = await enrolled(rt2, 1)
        await rt2.outbox.run_until_idle()
        email = await rt2.emails.get(next(iter(firsts.values())))
        assert email.state == "failed"
        assert email.sender_backend == "smtp"
        assert not (data_dir / "second" / "outbox").exists()
    finally:
        await sink.stop()


async def test_fault_injecting_server_every_email_ends_sent_or_failed_none_twice(
    make_settings, make_runtime
) -> None:
    handler = SinkHandler(Faults(transient=0.2, permanent=0.08, drop_before=0.15, seed=11))
    sink = await Sink(handler).start()
    try:
        rt = await make_runtime(
            make_settings(
                sender={"backend": "smtp", "smtp": smtp_settings(sink.port)},
                mailboxes=[mailbox()],
                sending={
                    "retry_base_seconds": 1,
                    "retry_max_seconds": 4,
                    "max_attempts": 10,
                    "rate_limit_per_minute": 0,
                    "batch_size": 10,
                },
            )
        )
        clock = Clock()
        rt.clock = clock
        firsts = await enrolled(rt, 60)
        for _ in range(40):
            await rt.outbox.run_until_idle()
            counts = await rt.emails.count_by_state()
            if counts["queued"] == 0 and counts["sending"] == 0:
                break
            clock.advance(seconds=5)
        counts = await rt.emails.count_by_state()
        assert counts["queued"] == counts["sending"] == 0
        assert counts["sent"] + counts["failed"] == 60
        assert counts["failed"] > 0
        assert counts["sent"] > 30
        assert sum(handler.refused.values()) > 20  # the faults really happened
        ids = handler.message_ids()
        assert max(ids.values()) == 1
        sent = [await rt.emails.get(i) for i in firsts.values()]
        assert {e.message_id for e in sent if e.state == "sent"} == set(ids)
        assert all(e.last_error for e in sent if e.state == "failed")
    finally:
        await sink.stop()
