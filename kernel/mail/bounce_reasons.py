"""Why a delivery failed, and whether the address is dead (hard) or may recover (soft).

The reasons and their meaning follow sisimai's taxonomy (libsisimai.org, "Bounce
Reason List"): only a mailbox that does not exist (``userunknown``), a domain that does
not exist (``hostunknown``), a moved mailbox (``hasmoved``) and a permanent "not
accepted" (``notaccept``) are hard. So is ``relaying-denied``, a recipient's own mail
server refusing to take mail for that address: sisimai counts it soft (``norelaying``),
but retrying the same address at the same server cannot succeed, so it is a permanent
"not accepted" for that address. Everything else - a full mailbox, a message too
large, rate limits, policy, authentication and spam blocks, a refused sender, delays and
expiry - says nothing against the address, so it is soft, whatever the enhanced status
code says on its own.

The server's words decide first (codes are reused loosely), in the order of
:data:`TEXT_RULES`, most specific first; then the enhanced status code
(:data:`STATUS_RULES`). A delayed message with no telling words has ``expired``.
"""

from __future__ import annotations

import re
from typing import NamedTuple

#: Reasons after which the address is treated as dead.
HARD_REASONS = frozenset({"userunknown", "hostunknown", "hasmoved", "notaccept", "relaying-denied"})


class ReasonRule(NamedTuple):
    """Words that decide a reason, with a real server phrase they match."""

    reason: str
    pattern: re.Pattern[str]
    example: str


def _rule(reason: str, pattern: str, example: str) -> ReasonRule:
    return ReasonRule(reason, re.compile(pattern, re.I), example)


#: Checked in order; the first rule whose words appear decides the reason.
TEXT_RULES: tuple[ReasonRule, ...] = (
    # Lotus Domino's unknown user; before "blocked", whose "listed in" it would match.
    _rule(
        "userunknown",
        r"not\s+listed\s+in\s+(?:the\s+)?(?:domino\s+)?(?:public\s+)?(?:address\s+book|directory)",
        "User some.name (kijitora@example.jp) not listed in Domino Directory",
    ),
    _rule(
        "requireptr",
        r"reverse\s+dns|no\s+ptr\s+record|\bptr\s+record|invalid\s+rdns|\brdns\b|unverif(?:y|i)able\s+sending\s+ip",
        "554 5.7.1 [C14] Missing reverse DNS for 203.0.113.2",
    ),
    _rule(
        "authfailure",
        r"\bdmarc\b|\bspf\b\s+(?:check\s+)?fail|dkim\s+(?:check\s+)?fail|unauthenticated\s+email",
        "550 5.7.1 Email rejected per DMARC policy for example.org",
    ),
    # A sender address on a block list is a refused sender, not a blocked server.
    _rule(
        "rejected",
        r"address\s+(?:that\s+)?(?:has\s+been|is)\s+(?:blacklisted|blocklisted)",
        "Sorry, you are sending to/from an address that has been blacklisted",
    ),
    _rule(
        "blocked",
        r"\bblocked\b|blacklist|blocklist|\bdnsbl\b|(?<!not\s)\blisted\s+(?:at|by|in|on)\s|poor\s+reputation"
        r"|smtp\s+server\s+of\s+your\s+isp|relay\s+quota|client\s+host\s+rejected",
        "521 5.7.1 client [203.0.113.225] blocked using dnsbl.sorbs.net",
    ),
    # The server refused who the message is from: nothing is wrong with the recipient.
    _rule(
        "rejected",
        r"after\s+mail\s+from|sender\s+(?:address\s+)?(?:was\s+)?(?:rejected|denied|refused)"
        r"|unroutable\s+sender|provide\s+a\s+valid\s+from|not\s+have\s+permission\s+to\s+post",
        "SMTP error from remote mail server after MAIL FROM:<a@example.com>: 550 Unroutable sender address",
    ),
    _rule(
        "relaying-denied",
        r"relay(?:ing)?\s+(?:access\s+)?(?:denied|not\s+permitted|prohibited)|not\s+permitted\s+to\s+relay",
        "554 5.7.1 <kijitora@example.com>: Relay access denied",
    ),
    _rule(
        "toomanyconn",
        r"connection\s+rate\s+limit|too\s+many\s+(?:connections|simultaneous)",
        "452 4.3.2 Connection rate limit exceeded.",
    ),
    _rule(
        "ratelimited",
        r"rate\s*limit(?:ed)?|too\s+many\s+(?:messages|emails)|cannot\s+receive\s+any\s+more\s+emails",
        "551 RATELIMITED: x@example.com cannot receive any more emails today.",
    ),
    _rule(
        "mailboxfull",
        r"mail\s*box\s+(?:is\s+)?full|mail\s*folder\s+is\s+full|over\s*quota|quota\s+exceeded|storage\s+quota"
        r"|exceeded\s+(?:its|the)\s+(?:storage|quota)|insufficient\s+(?:disk\s+)?space|mailbox\s+exceeds",
        "550 5.2.2 <a@example.jp>... Mailbox Full",
    ),
    _rule(
        "emailtoolarge",
        r"size\s+limit\s+exceeded|message\s+(?:is\s+)?too\s+(?:large|big)|exceeds\s+the\s+maximum\s+message\s+size",
        "Mail size limit exceeded.",
    ),
    _rule(
        "hasmoved", r"has\s+moved|no\s+longer\s+(?:valid|available|at\s+this\s+address)", "551 User has moved"
    ),
    _rule(
        "suspend",
        r"(?:account|mailbox|user)\b[^.\n]{0,40}?\s(?:is\s+|has\s+been\s+)?(?:disabled|suspended|inactive|deactivated)",
        "550 5.2.1 The email account that you tried to reach is disabled.",
    ),
    _rule(
        "hostunknown",
        r"host\s+(?:or\s+domain\s+name\s+)?not\s+found|domain\s+(?:not\s+found|does\s+not\s+exist)"
        r"|no\s+such\s+domain|unknown\s+host|name\s+service\s+error|nxdomain"
        r"|unrouteable\s+mail\s+domain",
        "No such domain.",
    ),
    _rule(
        "userunknown",
        r"user\s*unknown|unknown\s+(?:user|recipient|address|mailbox|or\s+illegal\s+alias)"
        r"|no\s+such\s+(?:user|mailbox|recipient|address)|recipient\s+(?:address\s+)?(?:rejected|not\s+found|unknown)"
        r"|recipnotfound|address\s+(?:not\s+found|couldn.t\s+be\s+found)|couldn.t\s+be\s+found"
        r"|mailbox\s+(?:not\s+found|unavailable|does\s+not\s+exist|is\s+unavailable)|does\s+not\s+exist"
        r"|recipient\s+name\s+is\s+not\s+recognized"
        r"|invalid\s+(?:recipient|address|mailbox|user)|user\s+not\s+found|no\s+mailbox\s+here"
        r"|unrouteable\s+address|account\s+(?:does\s+not|doesn.t)\s+exist|address\s+rejected",
        "550 5.1.1 <a@example.jp>... User Unknown",
    ),
    _rule(
        "securityerror",
        r"access\s+denied|authentication\s+required",
        "550 5.7.1 <a@example.com>... Access denied",
    ),
    # A filter refused the message itself (its headers or content), not the address.
    _rule(
        "filtered",
        r"header\s+error|content\s+filter|message\s+(?:was\s+)?filtered|rejected\s+by\s+(?:a\s+|the\s+)?filter"
        r"|refused\s+due\s+to\s+recipient\s+preferences",
        "554 554 5.7.0 Header error (state 18).",
    ),
    _rule(
        "spamdetected",
        r"\bspam\b|junk\s+mail|content\s+rejected|\bUBE\b",
        "550 5.7.1 Message content rejected, UBE",
    ),
    _rule(
        "expired",
        r"delivery\s+(?:time\s+)?expired|retry\s+(?:time(?:out)?|period)\s+exceeded|message\s+expired"
        r"|cannot\s+send\s+message\s+for\s+\d+\s+days?|did\s+not\s+accept\s+our\s+requests\s+to\s+connect"
        r"|connection\s+timed\s+out|message\s+too\s+old",
        "5.4.7 - Delivery expired (message too old) 'timeout'",
    ),
    _rule(
        "notaccept",
        r"does\s+not\s+accept\s+(?:any\s+)?mail|not\s+accepting\s+(?:any\s+)?mail|null\s+mx"
        r"|no\s+mx\s+(?:record|host)",
        "556 5.1.10 Recipient address has null MX",
    ),
)

#: Enhanced status codes (RFC 3463) that decide a reason when no words did.
STATUS_RULES: dict[str, str] = {
    "5.1.0": "userunknown",
    "5.1.1": "userunknown",
    "4.1.1": "userunknown",
    "5.1.10": "notaccept",  # RFC 7505: the domain publishes a null MX
    "5.1.2": "hostunknown",
    "5.1.6": "hasmoved",
    "5.1.7": "rejected",
    "5.1.8": "rejected",
    "5.2.1": "suspend",
    "5.2.2": "mailboxfull",
    "4.2.2": "mailboxfull",
    "5.2.3": "emailtoolarge",
    "5.3.5": "systemerror",
    "5.3.4": "emailtoolarge",
    "4.4.1": "expired",
    "4.4.7": "expired",
    "5.4.7": "expired",
    "5.7.1": "blocked",
    "5.7.6": "securityerror",
    "5.7.7": "securityerror",
    "5.7.9": "securityerror",
    "5.7.23": "authfailure",
    "5.7.25": "requireptr",
    "5.7.26": "authfailure",
}

#: The recipient was refused while the message itself was sent: content filtering.
_DATA_PHASE = re.compile(r"end\s+of\s+data|>>>\s*data\b|after\s+end\s+of\s+data|\bDATA\s+command", re.I)
_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# An enhanced code right after a reply code ("550-'5.2.2", "550 #5.1.0") is the remote's own.
_REPLIED_STATUS = re.compile(r"(?<![\d.])[245]\d\d[\s-]+['\"#<(]?\s*#?([245]\.\d{1,3}\.\d{1,3})(?![\d.])")
_REPLY = re.compile(r"(?<![\d.#-])([245][0-5][0-9])(?!\d|\.\d)")


#: The remote server's own answer quoted at the end of a reporting server's sentence:
#: "554 4.4.7 Message expired: unable to deliver in 840 minutes.<421 4.4.2 Connection timed out>".
_INNER_REPLY = re.compile(r"<([245]\d\d)[ -]([245]\.\d{1,3}\.\d{1,3})\b[^<>]*>")


def inner_reply(text: str) -> tuple[str, str] | None:
    """``(reply code, enhanced status)`` of a remote answer quoted in angle brackets, or None."""
    found = _INNER_REPLY.search(text or "")
    return (found.group(1), found.group(2)) if found else None


def find_status(text: str) -> str | None:
    """The enhanced status code in ``text``: one that follows a reply code, else the first."""
    replied = _REPLIED_STATUS.search(text or "")
    if replied:
        return replied.group(1)
    match = _STATUS.search(text or "")
    return ".".join(match.groups()) if match else None


def find_reply_code(text: str) -> str | None:
    """The first SMTP reply code (``550``) in ``text``."""
    match = _REPLY.search(text or "")
    return match.group(1) if match else None


def reason_from_words(text: str) -> str | None:
    """The reason the first matching :data:`TEXT_RULES` row gives, or None."""
    for rule in TEXT_RULES:
        if rule.pattern.search(text or ""):
            return rule.reason
    return None


def reason_for(status: str | None, diagnostic: str, *, delayed: bool = False, context: str = "") -> str:
    """The reason of one failed recipient, from what the server said and its codes.

    ``context`` is the surrounding notice: an unknown user refused after the message
    body (``end of DATA``) is content filtering, not a missing mailbox.
    """
    reason = reason_from_words(diagnostic)
    if reason is None and status in STATUS_RULES:
        reason = STATUS_RULES[status]
    if reason is None:
        reason = "expired" if delayed else "undefined"
    # Refused after the body, an unknown user is the filter talking, unless the code
    # itself (``5.1.1``) says the mailbox does not exist.
    if (
        reason == "userunknown"
        and STATUS_RULES.get(status or "") != "userunknown"
        and _DATA_PHASE.search(f"{diagnostic}\n{context}")
    ):
        reason = "filtered"
    return reason


def is_hard(reason: str) -> bool:
    """Whether a failure for ``reason`` means the address is dead."""
    return reason in HARD_REASONS
