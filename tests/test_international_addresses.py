"""Addresses that are not plain ASCII: a non-ASCII domain is stored and sent in its IDNA form;
a non-ASCII local part goes only to a server that offers SMTPUTF8 (RFC 6531), else the
email fails saying so."""

from __future__ import annotations

import pytest
from engine_helpers import ONE_STEP, Clock, enrolled, mailbox, with_legal
from mail_servers import Sink, SinkHandler

from outreach.kernel import OutgoingMessage, mime_bytes, needs_smtputf8, sendable_address


@pytest.fixture
def make_settings(make_settings):
    return with_legal(make_settings)


@pytest.mark.parametrize(
    ("written", "sendable", "utf8"),
    [
        ("info@bücher.de", "info@xn--bcher-kva.de", False),
        ("INFO@Bücher.DE", "INFO@xn--bcher-kva.de", False),
        ("jörg@bücher.de", "jörg@xn--bcher-kva.de", True),
        ("owner@plain.example", "owner@plain.example", False),
        ("用户@παράδειγμα.δοκιμή", "用户@xn--hxajbheg2az3al.xn--jxalpdlp", True),
    ],
)
def test_the_domain_is_sent_in_idna_form_and_a_utf8_local_part_is_named(written, sendable, utf8) -> None:
    assert sendable_address(written) == sendable
    assert needs_smtputf8(written) is utf8


def test_the_mime_writer_never_fails_on_an_international_address() -> None:
    def to_line(to: str) -> bytes:
        message = OutgoingMessage(
            email_id=1,
            message_id="<m@main.example>",
            from_address="ann@main.example",
            to_address=to,
            subject="Hi",
            text="Hi",
        )
        return next(line for line in mime_bytes(message).split(b"\r\n") if line.startswith(b"To:"))

    assert to_line("info@bücher.de") == b"To: info@xn--bcher-kva.de"
    assert to_line("Jörg Müller <info@bücher.de>").endswith(b" <info@xn--bcher-kva.de>")
    # RFC 6532: a UTF-8 local part is written as UTF-8, not as an encoded word no server reads.
    assert to_line("jörg@bücher.de") == "To: jörg@xn--bcher-kva.de".encode()


async def sent_through(make_settings, make_runtime, address: str, *, smtputf8: bool):
    handler = SinkHandler()
    sink = await Sink(handler, smtputf8=smtputf8).start()
    try:
        settings = make_settings(
            mailboxes=[mailbox()],
            sending={"rate_limit_per_minute": 0},
            sender={"backend": "smtp", "smtp": {"host": "127.0.0.1", "port": sink.port, "timeout": 5}},
        )
        rt = await make_runtime(settings)
        rt.clock = Clock()
        (email_id,) = (await enrolled(rt, 1, sequence=ONE_STEP, email=address)).values()
        await rt.outbox.run_until_idle()
        return rt, await rt.emails.get(email_id), handler.received
    finally:
        await sink.stop()


async def test_a_lead_at_a_non_ascii_domain_is_stored_and_sent_in_idna_form(
    make_settings, make_runtime
) -> None:
    rt, email, received = await sent_through(make_settings, make_runtime, "info@bücher.de", smtputf8=False)
    (lead,) = await rt.leads.find_by_email("info@xn--bcher-kva.de")
    assert lead.email == "info@xn--bcher-kva.de"
    # Either spelling finds it: the keyed hash is of the sendable form.
    assert [found.id for found in await rt.leads.find_by_email("info@bücher.de")] == [lead.id]
    assert email.state == "sent"
    (message,) = received
    assert message.rcpt_tos == ["info@xn--bcher-kva.de"]
    assert message.message["To"] == "info@xn--bcher-kva.de"


async def test_a_utf8_local_part_fails_at_a_server_without_smtputf8_saying_why(
    make_settings, make_runtime
) -> None:
    _rt, email, received = await sent_through(make_settings, make_runtime, "jörg@bücher.de", smtputf8=False)
    assert email.state == "failed"
    assert "SMTPUTF8" in email.last_error
    assert "non-ASCII part before the @" in email.last_error
    assert received == []


async def test_a_utf8_local_part_is_sent_to_a_server_that_offers_smtputf8(
    make_settings, make_runtime
) -> None:
    _rt, email, received = await sent_through(make_settings, make_runtime, "jörg@bücher.de", smtputf8=True)
    assert email.state == "sent", email.last_error
    (message,) = received
    assert message.rcpt_tos == ["jörg@xn--bcher-kva.de"]
    assert message.message["To"] == "jörg@xn--bcher-kva.de"
