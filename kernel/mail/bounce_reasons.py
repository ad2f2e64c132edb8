"""Why a delivery failed, and whether the address is dead (hard) or may recover (soft).

The reason comes from the server's words first (they are more specific than codes that
MTAs reuse loosely), then from the enhanced status code (RFC 3463), then from the SMTP
reply code. Hard means the address will not work: unknown user, unknown host, moved
mailbox, relaying refused for that recipient, or a permanent "not accepted". Mailbox
full, policy and spam blocks, and delays are soft: the address may still be good.
"""

from __future__ import annotations

import re

#: Reasons after which the address is treated as dead.
HARD_REASONS = frozenset({"userunknown", "hostunknown", "hasmoved", "notaccept", "relaying-denied"})

_TEXT_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "userunknown",
        re.compile(
            r"user\s*unknown|unknown\s+(user|recipient|address|mailbox)|no\s+such\s+(user|mailbox|recipient|address)"
            r"|recipient\s+(address\s+)?(rejected|not\s+found|unknown)|recipnotfound|address\s+not\s+found"
            r"|mailbox\s+(not\s+found|unavailable|does\s+not\s+exist|is\s+unavailable)|does\s+not\s+exist"
            r"|not\s+listed\s+in\s+(domino\s+)?directory|invalid\s+(recipient|address|mailbox)"
            r"|user\s+not\s+found|no\s+mailbox\s+here|unrouteable\s+address|account\s+(does\s+not|doesn.t)\s+exist"
            r"|email\s+account\s+that\s+you\s+tried\s+to\s+reach\s+does\s+not\s+exist|address\s+rejected",
            re.I,
        ),
    ),
    (
        "hostunknown",
        re.compile(
            r"host\s+(or\s+domain\s+name\s+)?not\s+found|domain\s+(not\s+found|does\s+not\s+exist)|unknown\s+host"
            r"|name\s+service\s+error|no\s+mx\s+(record|host)|nxdomain|unrouteable\s+mail\s+domain",
            re.I,
        ),
    ),
    ("hasmoved", re.compile(r"has\s+moved|no\s+longer\s+(valid|available|at\s+this\s+address)", re.I)),
    (
        "mailboxfull",
        re.compile(
            r"mailbox\s+(is\s+)?full|over\s*quota|quota\s+exceeded|exceeded\s+(its|the)\s+(storage|quota)"
            r"|insufficient\s+(disk\s+)?space|mail\s*box\s+full",
            re.I,
        ),
    ),
    ("relaying-denied", re.compile(r"relay(ing)?\s+(access\s+)?(denied|not\s+permitted|prohibited)", re.I)),
    ("spamdetected", re.compile(r"\bspam\b|junk\s+mail|content\s+rejected", re.I)),
    ("blocked", re.compile(r"blocked|blacklist|blocklist|listed\s+(at|by|in)\s|poor\s+reputation", re.I)),
    ("suspend", re.compile(r"(account|mailbox)\s+(is\s+)?(disabled|suspended|inactive|deactivated)", re.I)),
    (
        "expired",
        re.compile(
            r"delivery\s+time\s+expired|retry\s+(time(out)?|period)\s+exceeded|message\s+expired", re.I
        ),
    ),
)

_STATUS_RULES: dict[str, str] = {
    "5.1.1": "userunknown",
    "5.1.0": "userunknown",
    "4.1.1": "userunknown",
    "5.1.2": "hostunknown",
    "5.1.6": "hasmoved",
    "5.2.2": "mailboxfull",
    "4.2.2": "mailboxfull",
    "5.2.1": "suspend",
    "5.4.7": "expired",
    "4.4.7": "expired",
    "5.7.1": "blocked",
}

_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_REPLY = re.compile(r"(?<![\d.#-])([245][0-5][0-9])(?!\d|\.\d)")


def find_status(text: str) -> str | None:
    """The first enhanced status code (``5.1.1``) in ``text``."""
    match = _STATUS.search(text or "")
    return ".".join(match.groups()) if match else None


def find_reply_code(text: str) -> str | None:
    """The first SMTP reply code (``550``) in ``text``."""
    match = _REPLY.search(text or "")
    return match.group(1) if match else None


def reason_for(status: str | None, diagnostic: str, *, delayed: bool = False) -> str:
    """The reason of one failed recipient, from what the server said and its codes."""
    if delayed:
        return "expired"
    for reason, pattern in _TEXT_RULES:
        if pattern.search(diagnostic or ""):
            return reason
    if status in _STATUS_RULES:
        return _STATUS_RULES[status]
    if status and status.startswith("5."):
        return "notaccept" if status.startswith("5.0") or status == "5.5.0" else "undefined"
    return "undefined"


def is_hard(reason: str) -> bool:
    """Whether a failure for ``reason`` means the address is dead."""
    return reason in HARD_REASONS
