"""Structured data a page publishes about its business: JSON-LD (``<script type=
"application/ld+json">``) read as JSON, and schema.org microdata for people.

Organization, LocalBusiness (and its many subtypes) and Person nodes give addresses,
telephones, profiles (``sameAs``) and the names of the people behind the business
(``employee``, ``founder``, ``member``...). Nodes are found wherever they sit: at the top,
in an ``@graph``, nested under another node. :func:`read_structured` is pure and never
raises: a block that is not JSON is skipped (and searched as text by the caller).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import msgspec
from selectolax.lexbor import LexborHTMLParser

#: How deep nested nodes are followed; real pages need three or four levels.
MAX_DEPTH = 12
#: Blocks larger than this are not parsed (a page embedding a product catalogue).
MAX_BLOCK = 500_000
_COMMENT = re.compile(r"^\s*(?:<!--|<!\[CDATA\[)|(?:-->|\]\]>)\s*$")


class Person(msgspec.Struct, frozen=True, kw_only=True):
    """Someone a page names as part of the business."""

    name: str
    job_title: str | None = None
    email: str | None = None
    #: Where the page says it: ``json-ld`` or ``microdata``.
    how: str = "json-ld"


class Structured(msgspec.Struct, kw_only=True):
    """What a page's structured data says."""

    emails: list[str] = []
    telephones: list[str] = []
    same_as: list[str] = []
    people: list[Person] = []
    #: Blocks that were not valid JSON, as text, for the caller to search.
    unreadable: list[str] = []


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {str(k).rsplit("/", 1)[-1].lower() for k in kinds if isinstance(k, str)}


def _strings(value: Any) -> list[str]:
    """A JSON-LD value that may be a string, a list of them, or ``{"@id"|"url"|"@value": ...}``."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("@value") or item.get("url") or item.get("@id")
        if isinstance(item, str | int | float) and not isinstance(item, bool) and str(item).strip():
            out.append(str(item).strip())
    return out


def _nodes(value: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every object in ``value``, itself and nested, depth first."""
    if depth > MAX_DEPTH:
        return
    if isinstance(value, list):
        for item in value:
            yield from _nodes(item, depth + 1)
    elif isinstance(value, dict):
        yield value
        for child in value.values():
            if isinstance(child, dict | list):
                yield from _nodes(child, depth + 1)


def _email(value: str) -> str:
    text = value.strip()
    return text[7:].split("?", 1)[0] if text[:7].lower() == "mailto:" else text


def _person(node: dict[str, Any]) -> Person | None:
    names = _strings(node.get("name"))
    if not names:
        given, family = _strings(node.get("givenName")), _strings(node.get("familyName"))
        names = [" ".join(given[:1] + family[:1])] if given or family else []
    if not names or len(names[0]) > 120:
        return None
    titles = _strings(node.get("jobTitle")) or _strings(node.get("roleName"))
    emails = _strings(node.get("email"))
    return Person(
        name=names[0], job_title=titles[0] if titles else None, email=_email(emails[0]) if emails else None
    )


def _blocks(tree: LexborHTMLParser) -> Iterator[str]:
    for node in tree.css('script[type="application/ld+json"]'):
        text = node.text() or ""
        if text.strip() and len(text) <= MAX_BLOCK:
            yield _COMMENT.sub("", text.strip())


def read_structured(tree: LexborHTMLParser) -> Structured:
    """The addresses, telephones, profiles and people in a parsed page's structured data."""
    found = Structured()
    for block in _blocks(tree):
        try:
            data = json.loads(block, strict=False)  # strict=False: raw newlines inside strings occur
        except ValueError:
            found.unreadable.append(block)
            continue
        for node in _nodes(data):
            kinds = _types(node)
            if "person" in kinds:
                person = _person(node)
                if person is not None:
                    _add_person(found.people, person)
            found.emails.extend(_email(e) for e in _strings(node.get("email")))
            found.telephones.extend(_strings(node.get("telephone")))
            if kinds and "person" not in kinds:
                found.same_as.extend(u for u in _strings(node.get("sameAs")) if u.startswith("http"))
    for node in tree.css('[itemtype*="schema.org/Person"]'):
        name = node.css_first('[itemprop="name"]')
        title = node.css_first('[itemprop="jobTitle"]')
        text = " ".join((name.text(separator=" ") if name is not None else "").split())
        if text and len(text) <= 120:
            job = " ".join(title.text(separator=" ").split()) if title is not None else None
            _add_person(found.people, Person(name=text, job_title=job or None, how="microdata"))
    return found


def _add_person(people: list[Person], person: Person) -> None:
    """Add ``person``, or fill in what an earlier mention of the same name left out."""
    key = " ".join(person.name.casefold().split())
    for index, known in enumerate(people):
        if " ".join(known.name.casefold().split()) == key:
            people[index] = msgspec.structs.replace(
                known, job_title=known.job_title or person.job_title, email=known.email or person.email
            )
            return
    people.append(person)
