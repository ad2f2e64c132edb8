"""Turning an :class:`OutgoingMessage` into RFC 5322 bytes, the same way for every sender."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate

from .contracts import OutgoingMessage


def build_mime(message: OutgoingMessage) -> EmailMessage:
    """The message as MIME: text only, or multipart/alternative when there is HTML.

    ``Message-ID`` is the one generated before the send (never a new one), so a
    crashed send can be looked up later by it.
    """
    mime = EmailMessage(policy=SMTP)
    mime["From"] = message.from_address
    mime["To"] = message.to_address
    mime["Subject"] = message.subject
    mime["Date"] = formatdate(localtime=False, usegmt=True)
    mime["Message-ID"] = message.message_id
    if message.in_reply_to:
        mime["In-Reply-To"] = message.in_reply_to
    if message.references:
        mime["References"] = " ".join(message.references)
    for name, value in message.headers.items():
        if name in mime:
            del mime[name]
        mime[name] = value
    mime.set_content(message.text)
    if message.html:
        mime.add_alternative(message.html, subtype="html")
    return mime


def mime_bytes(message: OutgoingMessage) -> bytes:
    """The message as bytes with CRLF line endings, ready for SMTP or an API."""
    return build_mime(message).as_bytes(policy=SMTP)
