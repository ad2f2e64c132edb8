"""The bare address inside a header value such as ``Ann Example <ann@example.com>``.

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
