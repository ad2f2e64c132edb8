"""Spam complaints as mailbox providers send them: which message, to whom, of what type.

Three shapes arrive:

- ARF, RFC 5965: ``multipart/report; report-type=feedback-report`` with a
  ``message/feedback-report`` part (``Feedback-Type: abuse``, ``Original-Rcpt-To``) and
  the original message or its headers;
- Microsoft's JMRP (Hotmail, Outlook.com): a ``multipart/mixed`` message whose subject
  says "complaint about message from <ip>" and whose only part is the original, with the
  complaining mailbox in its ``X-HmXmrOriginalRecipient`` header;
- Amazon SES ``Complaint`` notifications mailed through SNS (JSON).
"""

from __future__ import annotations

import re
from email import message_from_string, policy
from email.message import Message

import msgspec

from .addresses import addresses_in, plain_address
from .message import header, part_text, walk
from .original import enclosed_message, original_message_id
from .ses_notifications import read_ses_notification

_JMRP_SUBJECT = re.compile(r"complaint\s+about\s+message\s+from", re.I)


class Complaint(msgspec.Struct, kw_only=True):
    """A recipient reported one of our messages as spam (or a report of another type)."""

    #: ``abuse``, ``fraud``, ``virus``, ``other`` ... (RFC 5965 section 7.3); JMRP and SES say ``abuse``.
    feedback_type: str = "abuse"
    #: The address of the person who complained, when the report names it.
    recipient: str | None = None
    original_message_id: str | None = None
    #: ``arf``, ``jmrp`` or ``ses``.
    format: str = "arf"


def _report_fields(message: Message) -> Message | None:
    """The ``message/feedback-report`` part's fields (Python reads them as a sub-message's headers)."""
    for part in walk(message):
        if part.get_content_type() == "message/feedback-report":
            payload = part.get_payload()
            block = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(block, Message):
                return block
            fields = Message()
            for line in part_text(part).splitlines():
                name, colon, value = line.partition(":")
                if colon and name.strip():
                    fields[name.strip()] = value.strip()
            return fields
    return None


def _enclosed_headers(message: Message) -> Message | None:
    """The original's headers: an attached copy's, or a ``text/rfc822-headers`` part read as headers."""
    inner = enclosed_message(message)
    if inner is not None:
        return inner
    for part in walk(message):
        if part.get_content_type() == "text/rfc822-headers":
            return message_from_string(part_text(part).lstrip(), policy=policy.default)
    return None


def _enclosed_recipient(message: Message) -> str | None:
    inner = _enclosed_headers(message)
    if inner is None:
        return None
    for name in ("X-HmXmrOriginalRecipient", "Original-Rcpt-To", "To"):
        found = addresses_in(header(inner, name))
        if len(found) == 1:
            return found[0]
    return None


def _from_arf(message: Message) -> Complaint | None:
    fields = _report_fields(message)
    if fields is None and "feedback-report" not in header(message, "Content-Type").lower():
        return None
    feedback_type = header(fields, "Feedback-Type").lower() if fields is not None else ""
    recipient = plain_address(header(fields, "Original-Rcpt-To")) if fields is not None else None
    return Complaint(
        feedback_type=feedback_type.split()[0] if feedback_type else "abuse",
        recipient=recipient or _enclosed_recipient(message),
        original_message_id=original_message_id(message),
        format="arf",
    )


def _from_jmrp(message: Message) -> Complaint | None:
    if not _JMRP_SUBJECT.search(header(message, "Subject")) or enclosed_message(message) is None:
        return None
    return Complaint(
        recipient=_enclosed_recipient(message),
        original_message_id=original_message_id(message),
        format="jmrp",
    )


def _from_ses(message: Message, text: str) -> Complaint | None:
    notification = read_ses_notification(text) if "{" in text else None
    if notification is None or notification.kind != "Complaint":
        return None
    return Complaint(
        feedback_type=notification.feedback_type or "abuse",
        recipient=notification.recipients[0].address if notification.recipients else None,
        original_message_id=notification.message_id,
        format="ses",
    )


def read_complaint(message: Message, text: str) -> Complaint | None:
    """The complaint ``message`` is (``text`` is its readable body), or None if it is not one."""
    return _from_arf(message) or _from_jmrp(message) or _from_ses(message, text)
