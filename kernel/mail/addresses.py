"""Plain ``user@domain`` out of the address forms bounces use.

DSN fields and notices write a failed address in many ways: ``rfc822; a@b``,
``<a@b>``, ``"a@b"``, Exchange's ``dda:SMTP=a@b`` and X.400 ``/DDA=SMTP=a@b``, values
folded over lines, capital letters. All of them mean the same mailbox.
"""

from __future__ import annotations

import re

#: One address; the local part excludes ``=`` and ``/`` so ``SMTP=a@b`` yields ``a@b``.
ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# Exchange and X.400 prefixes ("dda:SMTP=", "/DDA=SMTP=", "SMTP:") before the real address.
_PREFIX = re.compile(r"(?i)(?:^|[/;:\s])(?:dda[:=])?smtp[:=]")


def plain_address(value: str) -> str | None:
    """The ``user@domain`` (lower case) that ``value`` names, or None when it names none."""
    text = " ".join((value or "").split())
    _, semicolon, rest = text.partition(";")
    if semicolon and "@" in rest:
        text = rest  # "rfc822; a@b": the address type comes first
    prefixed = _PREFIX.split(text)
    if len(prefixed) > 1:
        text = prefixed[-1]
    found = ADDRESS.search(text)
    return found.group(0).strip(".").lower() if found else None


def addresses_in(text: str) -> list[str]:
    """Every address in ``text``, normalised, in order of appearance, without repeats."""
    seen: dict[str, None] = {}
    for match in ADDRESS.finditer(text or ""):
        seen.setdefault(match.group(0).strip(".").lower(), None)
    return list(seen)
