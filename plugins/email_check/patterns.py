"""A person's name as the local parts businesses commonly build addresses from.

``Dr. Anna-Lena Müller`` gives ``anna-lena@``, ``anna-lena.mueller@``,
``amueller@``, ``anna-lenamueller@``, ``anna-lena_mueller@``, ``a.mueller@``,
``mueller@`` and a few rarer ones, most common first. Titles are dropped; German letters are written
the way German addresses write them (``ü`` as ``ue``, ``ß`` as ``ss``) and other
accents are dropped; the first word is the first name and the last the family name.
"""

from __future__ import annotations

import re
import unicodedata

#: The patterns, most common first; each makes a local part from (first name, family name).
PATTERNS: tuple[tuple[str, str], ...] = (
    ("first", "{f}"),
    ("first.last", "{f}.{l}"),
    ("flast", "{i}{l}"),
    ("firstlast", "{f}{l}"),
    ("first_last", "{f}_{l}"),
    ("f.last", "{i}.{l}"),
    ("last", "{l}"),
    ("first-last", "{f}-{l}"),
    ("lastf", "{l}{i}"),
)

_TITLE_WORDS = (
    "dr prof mr mrs ms miss mx sir dame herr frau dipl ing mag med dent jr sr phd md dds dmd mba msc bsc"
)
_TITLES = frozenset(_TITLE_WORDS.split())
_GERMAN = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "ł": "l"}
)
_NOT_LOCAL = re.compile(r"[^a-z0-9-]")


def _ascii(word: str) -> str:
    folded = unicodedata.normalize("NFKD", word.casefold().translate(_GERMAN))
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return _NOT_LOCAL.sub("", plain).strip("-")


def name_parts(name: str) -> tuple[str, str] | None:
    """``(first, last)`` in address form, or None when the name is not a first and a family name."""
    words = [
        w for w in re.split(r"[\s,]+", name.strip()) if w and w.casefold().replace(".", "") not in _TITLES
    ]
    parts = [p for p in (_ascii(w) for w in words) if p]
    if len(parts) < 2:
        return None
    return parts[0], parts[-1]


def local_parts(name: str) -> list[tuple[str, str]]:
    """``(pattern, local part)`` for a person's name, most common first, without repeats."""
    parts = name_parts(name)
    if parts is None:
        return []
    first, last = parts
    seen: set[str] = set()
    out = []
    for pattern, template in PATTERNS:
        local = template.format(f=first, l=last, i=first[0])
        if local not in seen:
            seen.add(local)
            out.append((pattern, local))
    return out
