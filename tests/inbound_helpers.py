"""Inbound messages for the tests, built the way real clients and mail servers write them.

Replies answer an email outreach sent (``In-Reply-To``, ``References``, a quote of it);
out-of-office notices carry RFC 3834's ``Auto-Submitted``; bounces are RFC 3464
delivery status notifications with the original's headers attached, as Postfix sends
them. Real captures come from ``tests/corpus/mail`` (see its MANIFEST files).
"""

from __future__ import annotations

import uuid
from email.utils import format_datetime
from pathlib import Path

from outreach.kernel.models import Email

CORPUS = Path(__file__).resolve().parent / "corpus" / "mail"
DATE = "Tue, 24 Nov 2026 10:15:00 +0000"


def corpus(name: str) -> bytes:
    """A real message from the corpus (``bounces/...`` or ``replies/...``), unchanged."""
    return (CORPUS / name).read_bytes()


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def reply(
    email: Email,
    text: str,
    *,
    sender: str | None = None,
    threaded: str = "in_reply_to",
    message_id: str | None = None,
) -> bytes:
    """A person's answer to ``email``: ``threaded`` is ``in_reply_to``, ``references`` or ``none``."""
    headers = [
        f"From: Owner <{sender or email.to_address}>",
        f"To: {email.from_address}",
        f"Subject: Re: {email.subject}",
        f"Date: {DATE}",
        f"Message-ID: {message_id or f'<{uuid.uuid4().hex}@mail.lead.example>'}",
    ]
    if threaded == "in_reply_to":
        headers += [f"In-Reply-To: {email.message_id}", f"References: {email.message_id}"]
    elif threaded == "references":
        headers.append(f"References: <older-{uuid.uuid4().hex}@elsewhere.example> {email.message_id}")
    quoted = "\n".join(f"> {line}" for line in email.body_text.splitlines())
    body = f"{text}\n\nOn Mon, Nov 23, 2026 at 3:00 PM Ann Example <ann@main.example> wrote:\n{quoted}\n"
    return _crlf(
        "\n".join([*headers, "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "", body])
    )


def vacation(email: Email, until: str) -> bytes:
    """An out-of-office notice for ``email``, as Exchange writes one (RFC 3834 headers)."""
    return _crlf(
        f"""From: {email.to_address}
To: {email.from_address}
Subject: Automatic reply: {email.subject}
Date: {DATE}
Message-ID: <{uuid.uuid4().hex}@mail.lead.example>
In-Reply-To: {email.message_id}
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
Content-Type: text/plain; charset=utf-8

I am out of the office until {until} with limited access to email.
I will reply when I am back.
"""
    )


def dsn(email: Email, *, status: str, diagnostic: str, action: str = "failed") -> bytes:
    """A Postfix delivery status notification for ``email`` (RFC 3464), the original's headers attached."""
    boundary = uuid.uuid4().hex
    return _crlf(
        f"""Return-Path: <>
From: MAILER-DAEMON@mx.main.example (Mail Delivery System)
To: {email.from_address}
Subject: Undelivered Mail Returned to Sender
Date: {format_datetime(email.sent_at) if email.sent_at else DATE}
Auto-Submitted: auto-replied
Message-ID: <{uuid.uuid4().hex}@mx.main.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"

--{boundary}
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.main.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{email.to_address}>: host mx.lead.example said: {diagnostic}

--{boundary}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.main.example

Final-Recipient: rfc822; {email.to_address}
Original-Recipient: rfc822;{email.to_address}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {diagnostic}

--{boundary}
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: {email.from_address}
To: {email.to_address}
Subject: {email.subject}
Message-ID: {email.message_id}

--{boundary}--
"""
    )
