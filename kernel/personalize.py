"""Values derived from a lead for personal emails: its city, a first name, a first line.

Real data is messy: a city may only be inside a full address, a contact name may be
"Dr. Dana Smith" or "DANA", a website's title is often "Home | Acme". Each function
returns None (or, for the first line, a plain fallback) rather than something odd.
"""

from __future__ import annotations

import html
import re
from typing import Any

from .models import Lead

_HONORIFICS = {"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "madam", "mx"}
_TITLE_SEPARATORS = re.compile(r"\s+[|–—·:-]\s+|\s+-\s+")
_GENERIC_TITLES = {"home", "homepage", "home page", "welcome", "index", "accueil", "inicio", "startseite"}
#: The enrichment record of the ``first_line`` enricher, where a person's edit is stored too.
FIRST_LINE_RECORD = "first_line"
#: Keys an enricher may use for a page's title, description or a ready-made first line.
_FIRST_LINE_KEYS = ("first_line",)
_DESCRIPTION_KEYS = ("description", "meta_description", "og_description")
_TITLE_KEYS = ("title", "page_title", "og_title")


def city_of(lead: Lead) -> str | None:
    """The lead's city, or the likeliest city part of its address (postal codes removed)."""
    if lead.city and lead.city.strip():
        return lead.city.strip()
    if not lead.location:
        return None
    parts = [part.strip() for part in lead.location.split(",") if part.strip()]
    if len(parts) < 2:
        return None
    # "1 Main St, Springfield, IL 62701" and "Rue X 5, 75001 Paris, France": the city sits
    # in the second to last part, or the last when there are only two.
    candidate = parts[-2] if len(parts) >= 3 else parts[-1]
    words = [word for word in candidate.split() if not any(ch.isdigit() for ch in word)]
    if len(words) == 1 and words[0].isupper() and len(words[0]) <= 3:
        # A state or region code ("IL"); the city is one part further left.
        if len(parts) >= 3:
            words = [w for w in parts[-3].split() if not any(ch.isdigit() for ch in w)]
        else:
            return None
    city = " ".join(words).strip()
    return city or None


def first_name(lead: Lead) -> str | None:
    """The contact's first name, capitalized, without honorifics; None when there is no contact."""
    if not lead.contact_name:
        return None
    words = [w.strip(".,") for w in lead.contact_name.split()]
    words = [w for w in words if w and w.lower() not in _HONORIFICS]
    if not words or "@" in words[0]:
        return None
    name = words[0]
    return name.capitalize() if name.isupper() or name.islower() else name


def _enrichment_value(lead: Lead, keys: tuple[str, ...]) -> str | None:
    for record in lead.enrichment.values():
        for key in keys:
            value: Any = record.data.get(key)
            if isinstance(value, str) and value.strip():
                return " ".join(html.unescape(value).split())
    return None


def _first_sentence(text: str, limit: int = 140) -> str | None:
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0].strip()
    if len(sentence) > limit or len(sentence) < 12:
        return None
    return sentence.rstrip(".!?")


def _title_subject(title: str, business_name: str) -> str | None:
    """The informative part of a page title: not the business name, not 'Home'."""
    name = business_name.casefold()
    for part in _TITLE_SEPARATORS.split(title):
        text = part.strip()
        if text and text.casefold() not in _GENERIC_TITLES and text.casefold() != name and len(text) <= 80:
            return text
    return None


def edited_first_line(lead: Lead) -> bool:
    """Whether a person wrote (or cleared) the lead's first line, which then stands as they left it."""
    record = lead.enrichment.get(FIRST_LINE_RECORD)
    return record is not None and bool(record.data.get("edited_by"))


def first_line(lead: Lead) -> str:
    """An opening sentence about the business.

    A person's line comes first (if they cleared it, the plain sentence), then a line an
    enricher wrote (the ``first_line`` enricher's model), then :func:`plain_first_line`.
    """
    if edited_first_line(lead):
        written = lead.enrichment[FIRST_LINE_RECORD].data.get("first_line")
        if isinstance(written, str) and written.strip():
            return " ".join(written.split())
        return plain_first_line(lead)
    return _enrichment_value(lead, _FIRST_LINE_KEYS) or plain_first_line(lead)


def plain_first_line(lead: Lead) -> str:
    """The sentence built from the website's description or title, else the category and city."""
    name = lead.business_name.strip()
    description = _enrichment_value(lead, _DESCRIPTION_KEYS)
    sentence = _first_sentence(description) if description else None
    if sentence:
        return f'I came across {name} and liked how you put it: "{sentence}".'
    title = _enrichment_value(lead, _TITLE_KEYS)
    subject = _title_subject(title, name) if title else None
    if subject:
        return f"I came across {name} ({subject}) and wanted to reach out."
    city = city_of(lead)
    if lead.category and city:
        return f"I came across {name} while looking at {lead.category.lower()} businesses in {city}."
    if city:
        return f"I came across {name} while looking at businesses in {city}."
    return f"I came across {name} and wanted to reach out."
