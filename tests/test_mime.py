"""The MIME writer's shapes, read back by the standard library's parser as a receiver would."""

from __future__ import annotations

import email
from email.message import EmailMessage
from email.policy import default

from outreach.kernel import Attachment, OutgoingMessage, mime_bytes


def parsed(message: OutgoingMessage) -> EmailMessage:
    return email.message_from_bytes(mime_bytes(message), _class=EmailMessage, policy=default)  # type: ignore[return-value]


def message(**fields) -> OutgoingMessage:
    return OutgoingMessage(
        email_id=1,
        message_id="<m@main.example>",
        from_address="Ann <ann@main.example>",
        to_address="owner@lead.example",
        subject="Hello",
        text="Hi there.",
        **fields,
    )


def test_without_attachments_the_message_is_not_mixed() -> None:
    assert parsed(message()).get_content_type() == "text/plain"
    assert parsed(message(html="<p>Hi there.</p>")).get_content_type() == "multipart/alternative"


def test_attachments_follow_the_readable_body_byte_for_byte() -> None:
    files = [
        Attachment(filename="a.bin", content_type="application/octet-stream", data=bytes(range(256)) * 3),
        Attachment(filename="notes.txt", content_type="text/plain", data=b"line one\r\nline two\r\n"),
    ]
    mail = parsed(message(html="<p>Hi there.</p>", attachments=files))
    assert mail.get_content_type() == "multipart/mixed"
    body, *attached = mail.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    assert mail.get_body(("html",)).get_content().strip() == "<p>Hi there.</p>"
    assert [(a.get_filename(), a.get_content_type()) for a in attached] == [
        ("a.bin", "application/octet-stream"),
        ("notes.txt", "text/plain"),
    ]
    assert [a.get_payload(decode=True) for a in attached] == [f.data for f in files]
    # base64 lines stay within the 76 characters RFC 2045 allows.
    assert max(len(line) for line in mime_bytes(message(attachments=files)).split(b"\r\n")) <= 78


def test_a_file_name_that_is_not_plain_ascii_or_a_type_that_is_not_one_cannot_break_the_headers() -> None:
    odd = Attachment(
        filename='Preise "2026"\r\nBcc: x@evil.example.pdf', content_type="text/html\r\nX: y", data=b"x"
    )
    mail = parsed(message(attachments=[odd]))
    (attached,) = mail.iter_attachments()
    assert attached.get_filename() == 'Preise "2026" Bcc: x@evil.example.pdf'
    assert attached.get_content_type() == "application/octet-stream"
    assert "Bcc" not in mail
    assert "X" not in attached
