"""What a mail server's answer to ``RCPT TO`` says about the mailbox.

``250``/``251`` accept it. ``550``, ``551`` and ``553`` refuse it, and mean "no such
user" unless the enhanced status code or the text says the refusal is about the
asker (a block list, a policy, a reputation): that verdict is ``unknown``, since
the mailbox was never judged. A ``4xx`` is a temporary refusal, most often
greylisting. Any other answer is ``unknown`` as well.
"""

from __future__ import annotations

import re

#: Codes that accept a recipient.
ACCEPTED = frozenset({250, 251})
#: Codes that refuse a recipient as unknown, unless the reply says it is a block.
NO_SUCH_USER = frozenset({550, 551, 553})

_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
# Words servers use when they refuse the asker rather than the address.
_BLOCK_WORDS = re.compile(
    r"block|spam|reputation|policy|denied|rbl|dnsbl|blacklist|blocklist|listed|banned|"
    r"not allowed|relay|authenticat|\brate\b|too many|abuse",
    re.IGNORECASE,
)


def enhanced_status(message: str) -> tuple[int, int, int] | None:
    """The RFC 3463 status (``5.1.1``) a reply text starts with, if any."""
    match = _ENHANCED.match(message)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def judge_rcpt(code: int, message: str) -> tuple[str, str | None]:
    """``(verdict, cause)`` for one ``RCPT TO`` reply; ``cause`` says why a verdict is ``unknown``.

    The verdict is ``deliverable``, ``undeliverable`` or ``unknown``; the probe makes
    ``catch_all`` of ``deliverable`` when a random address is accepted as well.
    """
    if code in ACCEPTED:
        return "deliverable", None
    if 400 <= code < 500:
        return "unknown", "greylisted"
    status = enhanced_status(message)
    if code in NO_SUCH_USER:
        if status is not None:
            # X.1.x is about the address (bad mailbox, moved, bad syntax); X.7.x is security or policy.
            return ("undeliverable", None) if status[1] == 1 else ("unknown", "blocked")
        return ("unknown", "blocked") if _BLOCK_WORDS.search(message) else ("undeliverable", None)
    return "unknown", "blocked" if code >= 500 else "unexpected_reply"
