"""The bare address inside a header value such as ``Ann Example <ann@example.com>``, and the
form of an address that sends.

Every send needs its envelope addresses, and :func:`email.utils.parseaddr` costs tens
microseconds each time. The two shapes outreach writes itself (a bare address, or a
plain display name with the address in angle brackets) are read with one regular
expression; anything else (quoted names, comments, groups, encoded words) goes to
``parseaddr``, so the answer is always the one ``parseaddr`` gives.
"""

from __future__ import annotations

import re
from email.utils import parseaddr

_LOCAL = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"
_DOMAIN = r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_PLAIN = re.compile(
    rf"(?:[A-Za-z0-9_-]+(?: [A-Za-z0-9_-]+)* <({_LOCAL}@{_DOMAIN})>|<?({_LOCAL}@{_DOMAIN})>?)"
)


def address_of(value: str) -> str:
    """The address in ``value`` (``""`` when there is none), exactly as ``parseaddr`` reads it."""
    match = _PLAIN.fullmatch(value)
    if match is not None:
        if match.group(1):
            return match.group(1)
        if value.startswith("<") == value.endswith(">"):
            return match.group(2)
    return parseaddr(value)[1]


def sendable_address(address: str) -> str:
    """``address`` with its domain in the ASCII form that DNS and SMTP use (IDNA, ``xn--``).

    ``info@bücher.de`` becomes ``info@xn--bcher-kva.de``, which any server accepts; the local
    part is kept as written (a non-ASCII one needs a server that offers SMTPUTF8:
    :func:`needs_smtputf8`). A domain IDNA refuses is left as it is, for the checks to judge.
    """
    local, at, domain = address.strip().rpartition("@")
    if not at or domain.isascii():
        return address.strip()
    import idna  # its tables load in tens of milliseconds; most addresses never need them

    try:
        domain = idna.encode(domain.rstrip("."), uts46=True).decode("ascii")
    except idna.IDNAError:
        return address.strip()
    return f"{local}@{domain}"


def needs_smtputf8(address: str) -> bool:
    """Whether ``address`` can only be sent with SMTPUTF8 (RFC 6531): its local part is not ASCII."""
    return not sendable_address(address).isascii()
