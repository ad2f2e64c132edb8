"""The server answers that mean "this mailbox is blocked", not "this address is bad".

One table, one row per kind of answer, each with an example reply as the providers word
it (the tests run every example). A match pauses the mailbox: sending on would only
deepen the block.
"""

from __future__ import annotations

import re

#: (name, pattern, an example reply the pattern must match).
POLICY_BLOCKS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        "enhanced status 5.7.x",
        re.compile(r"(?<![\d.])5\.7\.\d{1,3}(?![\d.])"),
        "550 5.7.26 This mail has been blocked because the sender is unauthenticated.",
    ),
    (
        "gmail unusual rate",
        re.compile(r"\b421[- ]4\.7\.\d+\b.*unusual\s+rate", re.I | re.S),
        "421-4.7.0 Our system has detected an unusual rate of unsolicited mail originating from your IP "
        "address. To protect our users from spam, mail sent from your IP address has been temporarily "
        "rate limited.",
    ),
    (
        "gmail blocked",
        re.compile(r"\b550[- ]5\.7\.1\b.*\bblocked\b", re.I | re.S),
        "550-5.7.1 [203.0.113.5] Our system has detected that this message is likely unsolicited mail. "
        "To reduce the amount of spam sent to Gmail, this message has been blocked.",
    ),
    (
        "microsoft block list",
        re.compile(r"part\s+of\s+their\s+network\s+is\s+on\s+our\s+block\s+list|\(S3150\)|\(S3140\)", re.I),
        "550 5.7.1 Unfortunately, messages from [203.0.113.5] weren't sent. Please contact your Internet "
        "service provider since part of their network is on our block list (S3150).",
    ),
    (
        "yahoo block list",
        re.compile(r"\[BL21\]|\[BL23\]|\bTSS0[49]\b", re.I),
        "553 5.7.1 [BL21] Connections will not be accepted from 203.0.113.5, because the ip is in "
        "Spamhaus's list",
    ),
    (
        "client host blocked",
        re.compile(r"client\s+host\s+(\[[^\]]*\]\s+)?(is\s+)?blocked", re.I),
        "554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org",
    ),
)


def policy_block(text: str | None) -> str | None:
    """The name of the first row of :data:`POLICY_BLOCKS` that ``text`` matches, else None."""
    if not text:
        return None
    for name, pattern, _example in POLICY_BLOCKS:
        if pattern.search(text):
            return name
    return None


#: Bounce reasons (``kernel.mail.bounce_reasons``) that mean the sender, not the address, is
#: refused: a block list or reputation, no reverse DNS, failed SPF/DKIM/DMARC.
BLOCK_REASONS = frozenset({"blocked", "badreputation", "requireptr", "authfailure"})


def bounce_block(recipients: list[dict[str, object]]) -> str | None:
    """Why a bounce's recipients (``status``, ``reason`` each) say the mailbox is blocked, else None."""
    for recipient in recipients:
        status = str(recipient.get("status") or "")
        if status.startswith("5.7."):
            return f"enhanced status {status}"
        if recipient.get("reason") in BLOCK_REASONS:
            return f"bounce reason {recipient['reason']}"
    return None
