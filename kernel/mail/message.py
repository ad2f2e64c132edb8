"""Reading a raw inbound message into the parts the rest of the mail code needs.

Real mail is messy: wrong charsets, folded headers, HTML-only bodies, mbox ``From ``
lines, parts nested in ``multipart/alternative`` inside ``multipart/report``. Parsing
never raises on bad input; what cannot be read is left empty.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

import msgspec

_TAGS = re.compile(r"<[^>]+>")
_BLOCK_TAGS = re.compile(r"(?i)<\s*(br|/p|/div|/tr|/li|/h\d|hr)\b[^>]*>")
_SCRIPT_STYLE = re.compile(r"(?is)<(script|style|head)\b.*?</\1\s*>")
_MSGID = re.compile(r"<[^<>\s]+@[^<>\s]+>")


class ParsedMail(msgspec.Struct, kw_only=True):
    """The parts of a message that bounce, auto-reply and reply handling read."""

    subject: str = ""
    from_address: str | None = None
    from_name: str | None = None
    to_addresses: list[str] = []
    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = []
    headers: dict[str, str] = {}
    date: datetime | None = None
    text: str = ""
    content_type: str = "text/plain"


def header(message: Message, name: str) -> str:
    """A header's value as text, '' when absent or unreadable."""
    try:
        value = message.get(name)
    except Exception:  # a malformed header the policy cannot parse
        return ""
    return str(value).strip() if value is not None else ""


def message_ids(value: str) -> list[str]:
    """Every ``<id@host>`` in a header value, in order."""
    return _MSGID.findall(value or "")


def html_to_text(markup: str) -> str:
    """Readable text from HTML: block tags become line breaks, entities decoded."""
    text = _SCRIPT_STYLE.sub(" ", markup)
    text = _BLOCK_TAGS.sub("\n", text)
    text = _TAGS.sub("", text)
    text = html.unescape(text)
    lines = [line.strip() for line in text.splitlines()]
    return "\n".join(lines).strip()


def part_text(part: Message) -> str:
    """The decoded text of one leaf part, whatever its declared charset."""
    payload = part.get_payload(decode=True)
    if payload is None:
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    charset = part.get_content_charset() or "utf-8"
    if charset.lower() in ("unicode-1-1-utf-7", "utf-7"):
        charset = "utf-7"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def walk(message: Message) -> list[Message]:
    """Every part of ``message``, depth first, the message itself first."""
    parts, stack = [], [message]
    while stack:
        part = stack.pop(0)
        parts.append(part)
        if part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):
                stack[0:0] = payload
    return parts


def body_text(message: Message) -> tuple[str, str]:
    """The best human-readable body (text/plain preferred, else HTML as text) and its type.

    Attached messages (``message/rfc822``) and delivery-status parts are not body.
    """
    plain: list[str] = []
    markup: list[str] = []
    stack = [message]
    while stack:
        part = stack.pop(0)
        ctype = part.get_content_type()
        if part.is_multipart():
            if ctype in ("message/rfc822", "message/delivery-status", "text/rfc822-headers"):
                continue
            payload = part.get_payload()
            if isinstance(payload, list):
                stack[0:0] = payload
            continue
        disposition = (part.get("Content-Disposition") or "").lower()
        if "attachment" in disposition:
            continue
        if ctype == "text/plain" or (ctype.startswith("multipart/") and not part.get_boundary()):
            # A multipart part whose boundary was lost (folded wrongly) is read as the text it is.
            plain.append(part_text(part))
        elif ctype == "text/html":
            markup.append(part_text(part))
    if plain:
        return "\n".join(plain).strip(), "text/plain"
    if markup:
        return html_to_text("\n".join(markup)), "text/html"
    return "", "text/plain"


def load(raw: bytes) -> EmailMessage:
    """Parse raw bytes with the modern policy (defects recorded, never raised)."""
    return message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


def _date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse(raw: bytes) -> ParsedMail:
    """Read ``raw`` into a :class:`ParsedMail`."""
    message = load(raw)
    from_name, from_address = parseaddr(header(message, "From"))
    text, content_type = body_text(message)
    headers = {}
    for name in message:
        headers.setdefault(name.lower(), header(message, name))
    return ParsedMail(
        subject=" ".join(header(message, "Subject").split()),
        from_address=from_address.lower() or None,
        from_name=from_name or None,
        to_addresses=[addr.lower() for _, addr in getaddresses([header(message, "To")]) if addr],
        message_id=(message_ids(header(message, "Message-ID")) or [None])[0],
        in_reply_to=(message_ids(header(message, "In-Reply-To")) or [None])[0],
        references=message_ids(header(message, "References")),
        headers=headers,
        date=_date(header(message, "Date")),
        text=text,
        content_type=content_type,
    )
