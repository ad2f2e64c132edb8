"""What must be configured before outreach may send real mail, in sentences a person can act on.

CAN-SPAM asks every commercial email to say who sends it and where they can be
found by post, and to carry a working way to opt out. Links in emails (unsubscribe,
tracking) must reach this outreach from the recipient's machine, over HTTPS (RFC 8058
asks it of one-click unsubscribe). The compliance plugin holds real mail back while
any of this is missing; the Compliance page lists the same sentences.
"""

from __future__ import annotations

import functools
import ipaddress
from email.utils import parseaddr
from typing import NamedTuple
from urllib.parse import urlsplit

from .config import MailboxSettings, Settings

#: How the reason of every email held back for missing legal settings begins: when the
#: settings change, the outbox finds these emails by it and judges them again at once.
LEGAL_HOLD = "held back until the settings are complete"


def public_url(settings: Settings) -> str:
    """The base of every link in emails: ``[web] public_url``, else the address the app listens on."""
    web = settings.web
    return (web.public_url or f"http://{web.host}:{web.port}").rstrip("/")


def _local_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in ("localhost", "") or host.endswith((".localhost", ".local")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_unspecified or address.is_link_local


def url_problem(url: str) -> str | None:
    """Why recipients could not use links to ``url``, or None."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return (
            f"[web] public_url must be the https address where recipients reach outreach "
            f"(the base of unsubscribe and tracking links); it is {url}."
        )
    if _local_host(parts.hostname):
        return (
            f"[web] public_url points at this machine or a private network ({url}); recipients "
            "cannot open links to it. Set it to an https address that reaches outreach from outside."
        )
    return None


@functools.lru_cache(maxsize=256)
def sender_problem(mailbox: str, from_address: str) -> str | None:
    """Why mail from ``from_address`` (of mailbox ``mailbox``) would not say truthfully who sends it."""
    _, address = parseaddr(from_address)
    domain = address.rpartition("@")[2].lower()
    if "@" not in address or domain in ("localhost", "") or domain.endswith((".local", ".localhost")):
        return (
            f"Mailbox '{mailbox}' sends from '{from_address}', which is not a real address; "
            "add a [[mailboxes]] entry with your own from_address."
        )
    return None


class Finding(NamedTuple):
    """One thing missing before real mail may go out: the setting (a dotted key path, with
    ``mailboxes.<name>.from_address`` for a mailbox) and a sentence a person can act on."""

    key: str
    message: str


def compliance_findings(settings: Settings, mailboxes: list[MailboxSettings] | None = None) -> list[Finding]:
    """Everything missing before real mail may go out, each with the setting that fixes it."""
    compliance = settings.compliance
    findings = []
    if not (compliance.sender_name or "").strip():
        findings.append(
            Finding(
                "compliance.sender_name",
                "[compliance] sender_name is not set: every email must say who sends it (CAN-SPAM).",
            )
        )
    if not (compliance.physical_address or "").strip():
        findings.append(
            Finding(
                "compliance.physical_address",
                "[compliance] physical_address is not set: every email must carry the sender's postal "
                "address (CAN-SPAM).",
            )
        )
    problem = url_problem(public_url(settings))
    if problem:
        findings.append(Finding("web.public_url", problem))
    for mailbox in mailboxes or []:
        problem = sender_problem(mailbox.name, mailbox.from_address)
        if problem:
            findings.append(Finding(f"mailboxes.{mailbox.name}.from_address", problem))
    return findings


def compliance_problems(settings: Settings, mailboxes: list[MailboxSettings] | None = None) -> list[str]:
    """Everything missing before real mail may go out (empty when nothing is)."""
    return [finding.message for finding in compliance_findings(settings, mailboxes)]
