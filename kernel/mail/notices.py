"""Plain-text bounce notices: telling one apart from mail, and finding who failed in it.

Exim, qmail, Postfix without a DSN part, Gmail, Yahoo, Google Groups, Lotus Domino,
older Exchange, IMail, MailMarshal and Apache James write their notices for people.
A notice is cut at the copy of the returned message; each failed address gets the
lines from its own line to the next failed address's line, where its codes and the
server's words are. Addresses the notice only mentions are not failed recipients: the
bounce's own sender and receiver, a postmaster to write to, the lines that echo the
returned message's ``From:``/``To:``. When a notice names no failed address at all, the
``X-Failed-Recipients`` header, the subject (Domino) and the returned message's ``To:``
(old Sendmail) are read, in that order.
"""

from __future__ import annotations

import re
from email.message import Message

import msgspec

from .addresses import ADDRESS, addresses_in, plain_address
from .bounce_reasons import find_reply_code, find_status, reason_from_words
from .message import body_text, header, html_to_text, part_text, walk

_DAEMON = re.compile(r"mailer-daemon|post_?master|mail\s*delivery|mail\s+administrator|mdaemon", re.I)
_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery\s+(status\s+notification|failure|failed|has\s+failed|problem)"
    r"|returned\s+(mail|to\s+sender)|failure\s+notice|mail\s+delivery\s+failed|non[- ]?deliver"
    r"|could\s+not\s+be\s+delivered|delivery\s+notification|mail\s+system\s+error|rejected"
    r"|\bdelay(ed)?\b|warning:\s+message|delivery\s+status",
    re.I,
)
#: What a mail system writes when a message did not get through, in a notice's opening.
_FAILURE_WORDS = re.compile(
    r"could\s+not\s+be\s+delivered|did\s+not\s+reach\s+the\s+following\s+recipient|was\s+not\s+delivered\s+to"
    r"|delivery\s+(?:to\s+the\s+following\s+recipients?\s+)?(?:has\s+)?failed|undeliverable"
    r"|error\s+message\s+below|invalid\s+user\s+address|permanent\s+error|following\s+address(?:es)?\s+failed"
    r"|cannot\s+be\s+delivered|delivery\s+problems",
    re.I,
)
#: The line where a notice's copy of the returned message starts.
COPY_MARKERS = re.compile(
    r"^\s*(-{2,}.*(copy\s+of\s+(the|your)\s+message|original\s+message|below\s+this\s+line|"
    r"message\s+headers?\s+follow|returned\s+message|unsent\s+message).*|original\s+message\s+(headers:|follows)"
    r"|-+\s*original\s+message\s*-+|-{5,}\s*$|_{10,}\s*$"
    # A copy of the original that starts with its headers and no marker line (Zoho).
    r"|(received|return-path|message-id|dkim-signature|x-received)\s*:.*\n\S[\w-]*\s*:)",
    re.I | re.M,
)
_TEMPORARY = re.compile(r"temporar(y|ily)|will\s+(continue\s+to\s+)?(retry|try\s+again)|delayed", re.I)
_PERMANENT = re.compile(r"permanent", re.I)
# A line that echoes the returned message ("To: a@b", "MAIL FROM: a@b"), not a failure.
_ECHO_LINE = re.compile(
    r"^\s*(?:from|to|cc|bcc|reply-to|sender|return-path|mail\s+from|original\s+sender|envelope-from)\s*:",
    re.I,
)
# Where the notice says whom to write to: "please send mail to help@example.com".
_HELP_BEFORE = re.compile(
    r"(?:send\s+(?:e-?mail|mail|a\s+message)\s+to|contact(?:\s+us)?(?:\s+at)?|write\s+to)\W*$", re.I
)


class FailedLine(msgspec.Struct, kw_only=True):
    """One failed address of a notice, with the words that say why."""

    address: str
    text: str
    temporary: bool = False


def looks_like_notice(message: Message) -> bool:
    """Whether ``message`` is a mail system's delivery notice rather than mail from a person."""
    sender = header(message, "From")
    subject = header(message, "Subject")
    if header(message, "X-Failed-Recipients"):
        return True
    if (
        message.get_content_type() == "multipart/report"
        and "delivery-status" in header(message, "Content-Type").lower()
    ):
        return True
    from_system = bool(_DAEMON.search(sender)) or header(message, "Return-Path").strip() == "<>"
    if not from_system:
        return False
    if _SUBJECT.search(subject):
        return True
    # Some systems write an unhelpful subject ("E", "Re: <the original>"): the opening decides.
    return bool(_FAILURE_WORDS.search(notice_text(message)[:1500]))


def notice_text(message: Message) -> str:
    """The human-readable part of a notice, without the copy of the returned message."""
    text, _ = body_text(message)
    if not text:
        for part in walk(message):
            if part.get_content_type() == "text/html":
                text = html_to_text(part_text(part))
                break
    marker = COPY_MARKERS.search(text)
    return text[: marker.start()] if marker else text


def _line_start(text: str, position: int) -> int:
    return text.rfind("\n", 0, position) + 1


def _mentioned_only(notice: str, position: int) -> bool:
    """An address on an echo line, or offered as the address to write to."""
    start = _line_start(notice, position)
    return bool(_ECHO_LINE.match(notice[start:position]) or _HELP_BEFORE.search(notice[start:position]))


def _candidates(notice: str, own: set[str]) -> dict[str, int]:
    """Failed-looking addresses of ``notice`` and the start of the line each first appears on."""
    found: dict[str, int] = {}
    ours: dict[str, int] = {}
    for match in ADDRESS.finditer(notice):
        address = match.group(0).strip(".").lower()
        if _DAEMON.search(address) or _mentioned_only(notice, match.start()):
            continue
        # The bounce's own addresses are ours; kept only when the notice names nobody else.
        (ours if address in own else found).setdefault(address, _line_start(notice, match.start()))
    return found or ours


def _returned_to(message: Message) -> list[str]:
    """The ``To:`` of the returned message, read from an attached copy or the notice's tail."""
    for part in walk(message):
        if part.get_content_type() == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                return addresses_in(header(inner, "To"))
    text, _ = body_text(message)
    marker = COPY_MARKERS.search(text)
    if marker is None:
        return []
    found = re.search(r"(?im)^to:\s*(.+)$", text[marker.start() :])
    return addresses_in(found.group(1)) if found else []


def _explains(text: str) -> bool:
    """Whether ``text`` holds a code or words that give a reason."""
    return bool(find_status(text) or find_reply_code(text) or reason_from_words(text))


def _windows(notice: str, starts: dict[str, int]) -> dict[str, str]:
    """Each address's lines: from its line to the next failed address's line.

    A window with no code and no words of its own (MailMarshal writes the reason once,
    above the list of recipients) takes the notice's opening before the first address.
    """
    order = sorted(set(starts.values()))
    opening = notice[: order[0]] if order else notice
    windows = {}
    for address, start in starts.items():
        following = [pos for pos in order if pos > start]
        window = notice[start : following[0] if following else len(notice)]
        windows[address] = window if _explains(window) else opening + window
    return windows


def failed_lines(message: Message) -> list[FailedLine]:
    """The failed addresses of a plain-text notice, each with the text that explains it."""
    notice = notice_text(message)
    own = set(addresses_in(header(message, "From") + " " + header(message, "To")))
    permanent = bool(_PERMANENT.search(notice))
    starts = _candidates(notice, own)
    declared = [a for a in (plain_address(v) for v in header(message, "X-Failed-Recipients").split(",")) if a]
    if declared:
        # The header is the mail system's own list; the notice may name only local parts.
        starts = {a: starts[a] for a in declared if a in starts} | {
            a: notice.lower().find(a.partition("@")[0]) for a in declared if a not in starts
        }
    windows = _windows(notice, {a: max(pos, 0) for a, pos in starts.items()})
    lines = [
        FailedLine(address=a, text=w, temporary=bool(_TEMPORARY.search(w)) and not permanent)
        for a, w in windows.items()
    ]
    if lines:
        return lines
    subject = header(message, "Subject")
    fallback = [(a, subject) for a in addresses_in(subject) if a not in own]
    fallback = fallback or [(a, notice) for a in _returned_to(message) if a not in own]
    return [
        FailedLine(address=a, text=text, temporary=bool(_TEMPORARY.search(text)) and not permanent)
        for a, text in fallback
    ]
