"""What every check of the domain doctor shares: the mailboxes examined, reserved names, and
the finding for a lookup that got no answer."""

from __future__ import annotations

import ipaddress
from email.utils import parseaddr

import msgspec

from outreach.kernel import PluginContext

from .report import WARN, Finding

GOOGLE_SPF = "_spf.google.com"
#: Google Workspace signs with this selector unless an admin chose another.
GOOGLE_SELECTOR = "google"
#: RFC 2606 and RFC 6761: names that can never be delegated on the Internet.
RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost"})
RESERVED_DOMAINS = frozenset({"example.com", "example.net", "example.org"})
#: How long a report with unanswered lookups is kept (DNS may answer again soon).
ERROR_TTL = 60.0

OWN_ADDRESS_FIX = "Add a [[mailboxes]] entry whose from_address is an address at a domain you own."


class Target(msgspec.Struct, frozen=True, kw_only=True):
    """A mailbox to examine: its name, From address and the sender that delivers its mail."""

    mailbox: str
    from_address: str
    backend: str


def from_domain(from_address: str) -> str:
    """The domain of a From address (``Ann <ann@acme.com>`` -> ``acme.com``)."""
    return parseaddr(from_address)[1].rpartition("@")[2].lower().rstrip(".")


def is_reserved(domain: str) -> bool:
    """Whether ``domain`` is reserved for documentation and tests, so no DNS can exist for it."""
    labels = domain.split(".")
    return labels[-1] in RESERVED_TLDS or ".".join(labels[-2:]) in RESERVED_DOMAINS


def targets(context: PluginContext) -> list[Target]:
    """Every configured mailbox; with none, the default mailbox outreach sends from."""
    settings = context.settings
    if not settings.mailboxes:
        name = settings.compliance.sender_name or "outreach"
        return [
            Target(
                mailbox="default",
                from_address=f"{name} <outreach@localhost>",
                backend=settings.sender.backend,
            )
        ]
    return [
        Target(mailbox=m.name, from_address=m.from_address, backend=m.backend or settings.sender.backend)
        for m in settings.mailboxes
    ]


_LOCAL_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "100.64.0.0/10",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)


def on_this_network(address: str) -> bool:
    """Whether ``address`` is this machine's or a private network's (mail leaves from another one)."""
    ip = ipaddress.ip_address(address)
    return any(ip.version == net.version and ip in net for net in _LOCAL_NETWORKS)


def lookup_warning(group: str, check: str, what: str, error: str | None) -> Finding:
    return Finding(
        group=group,
        check=check,
        status=WARN,
        summary=f"{what} could not be looked up: {error}",
        fix="Check the network, or [plugins.deliverability] nameserver, and run the doctor again.",
        details={"lookup_failed": True},
    )
