"""Recognizing bounces and reading who bounced, with which status, hard or soft.

Two readers behind one result: RFC 3464 delivery status notifications
(``message/delivery-status``), and the plain-text notices that Exim, qmail, Gmail,
Yahoo, Domino, Zoho and Exchange send. For the latter the human-readable part (before
the copy of the original) is cut into one window per failed address, and each window's
codes and words give that recipient's status and reason.
"""

from __future__ import annotations

import re
from email.message import Message

import msgspec

from .bounce_reasons import find_reply_code, find_status, is_hard, reason_for
from .message import body_text, header, html_to_text, message_ids, part_text

_DAEMON = re.compile(r"mailer-daemon|postmaster|mail\s*delivery|mail\s+administrator|mdaemon", re.I)
_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery\s+(status\s+notification|failure|failed|has\s+failed|problem)"
    r"|returned\s+(mail|to\s+sender)|failure\s+notice|mail\s+delivery\s+failed|non[- ]?deliver"
    r"|could\s+not\s+be\s+delivered|delivery\s+notification|mail\s+system\s+error|rejected"
    r"|\bdelay(ed)?\b|warning:\s+message",
    re.I,
)
_COPY_MARKERS = re.compile(
    r"^\s*(-{2,}.*(copy\s+of\s+(the|your)\s+message|original\s+message|below\s+this\s+line|"
    r"message\s+headers?\s+follow|returned\s+message).*|original\s+message\s+headers:"
    r"|-+\s*original\s+message\s*-+|-{5,}\s*$|_{10,}\s*$"
    # A copy of the original that starts with its headers and no marker line (Zoho).
    r"|(received|return-path|message-id|dkim-signature|x-received)\s*:.*\n\S[\w-]*\s*:)",
    re.I | re.M,
)
_TEMPORARY = re.compile(r"temporar(y|ily)|will\s+(continue\s+to\s+)?(retry|try\s+again)|delayed", re.I)
_PERMANENT = re.compile(r"permanent", re.I)
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


class BouncedRecipient(msgspec.Struct, kw_only=True):
    """One address a bounce says could not be reached."""

    address: str
    status: str | None = None
    reply_code: str | None = None
    reason: str = "undefined"
    hard: bool = False
    action: str | None = None
    diagnostic: str | None = None


class Bounce(msgspec.Struct, kw_only=True):
    """What a bounce says: who failed, how, and which message of ours it returns."""

    recipients: list[BouncedRecipient]
    original_message_id: str | None = None
    source: str = "dsn"

    @property
    def classification(self) -> str:
        """``hard``, ``soft``, or ``mixed`` when recipients differ."""
        kinds = {"hard" if r.hard else "soft" for r in self.recipients}
        return kinds.pop() if len(kinds) == 1 else "mixed"


def _walk(message: Message) -> list[Message]:
    parts, stack = [], [message]
    while stack:
        part = stack.pop(0)
        parts.append(part)
        if part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):
                stack[0:0] = payload
    return parts


def _field(block: Message, name: str) -> str:
    return " ".join(header(block, name).split())


def _address_of(value: str) -> str | None:
    """``rfc822; a@b`` -> ``a@b``."""
    _, _, address = value.partition(";")
    found = _ADDRESS.search(address or value)
    return found.group(0).lower() if found else None


def _original_message_id(message: Message, text: str) -> str | None:
    for part in _walk(message):
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                ids = message_ids(header(inner, "Message-ID"))
                if ids:
                    return ids[0]
        elif ctype == "text/rfc822-headers":
            match = re.search(r"(?im)^message-id:\s*(<[^>]+>)", part_text(part))
            if match:
                return match.group(1)
    marker = _COPY_MARKERS.search(text)
    tail = text[marker.start() :] if marker else text
    match = re.search(r"(?im)^message-id:\s*(<[^>\s]+>)", tail)
    return match.group(1) if match else None


def _recipient(
    address: str, *, status: str | None, reply_code: str | None, diagnostic: str, action: str
) -> BouncedRecipient:
    """One failed recipient, its reason read from the server's words and codes."""
    delayed = action == "delayed"
    reason = reason_for(status, diagnostic, delayed=delayed)
    return BouncedRecipient(
        address=address,
        status=status,
        reply_code=reply_code,
        reason=reason,
        hard=not delayed and is_hard(reason),
        action=action,
        diagnostic=diagnostic or None,
    )


def _from_dsn(message: Message) -> list[BouncedRecipient] | None:
    for part in _walk(message):
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        blocks = [b for b in payload if isinstance(b, Message)] if isinstance(payload, list) else []
        recipients = []
        for block in blocks:
            final = _field(block, "Final-Recipient") or _field(block, "Original-Recipient")
            if not final:
                continue
            address = _address_of(final)
            if not address:
                continue
            action = _field(block, "Action").lower() or None
            if action in ("delivered", "relayed", "expanded"):
                continue
            diagnostic = _field(block, "Diagnostic-Code") or _field(block, "X-Supplementary-Info")
            recipients.append(
                _recipient(
                    address,
                    status=find_status(_field(block, "Status")),
                    reply_code=find_reply_code(diagnostic.partition(";")[2] or diagnostic),
                    diagnostic=diagnostic,
                    action=action or "failed",
                )
            )
        if recipients:
            return recipients
    return None


def _looks_like_bounce(message: Message) -> bool:
    sender = header(message, "From")
    subject = header(message, "Subject")
    return_path = header(message, "Return-Path")
    ctype = message.get_content_type()
    if ctype == "multipart/report" and "delivery-status" in header(message, "Content-Type").lower():
        return True
    if bool(_DAEMON.search(sender)) and bool(_SUBJECT.search(subject)):
        return True
    return return_path.strip() == "<>" and bool(_SUBJECT.search(subject))


def _notice_text(message: Message) -> str:
    text, _ = body_text(message)
    if not text:
        for part in _walk(message):
            if part.get_content_type() == "text/html":
                text = html_to_text(part_text(part))
                break
    marker = _COPY_MARKERS.search(text)
    return text[: marker.start()] if marker else text


def _from_text(message: Message) -> list[BouncedRecipient]:
    notice = _notice_text(message)
    own = {a.lower() for a in _ADDRESS.findall(header(message, "From") + " " + header(message, "To"))}
    hits = [(m.start(), m.group(0).lower()) for m in _ADDRESS.finditer(notice)]
    hits = [(pos, addr) for pos, addr in hits if addr not in own and not _DAEMON.search(addr)]
    firsts: dict[str, int] = {}
    for pos, address in hits:
        firsts.setdefault(address, pos)
    starts = sorted(firsts.values())
    recipients = []
    for address, first in firsts.items():
        following = [pos for pos in starts if pos > first]
        window = notice[first : following[0] if following else len(notice)]
        temporary = bool(_TEMPORARY.search(window)) and not _PERMANENT.search(notice)
        recipients.append(
            _recipient(
                address,
                status=find_status(window),
                reply_code=find_reply_code(window),
                diagnostic=" ".join(window.split())[:500],
                action="delayed" if temporary else "failed",
            )
        )
    return recipients


def read_bounce(message: Message) -> Bounce | None:
    """The bounce ``message`` is, or None if it is not one."""
    dsn = _from_dsn(message)
    if dsn is None and not _looks_like_bounce(message):
        return None
    text, _ = body_text(message)
    recipients = dsn if dsn is not None else _from_text(message)
    if not recipients:
        return None
    return Bounce(
        recipients=recipients,
        original_message_id=_original_message_id(message, text),
        source="dsn" if dsn is not None else "text",
    )
