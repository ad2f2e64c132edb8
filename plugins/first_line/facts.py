"""What analysis learned about a lead, as the facts a model may use, and the prompt built from them."""

from __future__ import annotations

import html
from typing import Any

from outreach.kernel import Lead

from .options import PLACEHOLDER

#: The labels facts carry in ``{facts}``, in the order they are listed.
LABELS = {
    "business_name": "Business",
    "city": "City",
    "category": "Category",
    "services": "Services",
    "title": "Website title",
    "headline": "Website headline",
    "description": "Website description",
}
#: Keys an enricher may store a page's title, headline or description under (the website
#: enricher's names first); the same keys the plain first line reads.
_KEYS = {
    "title": ("title", "page_title", "og_title"),
    "headline": ("headline",),
    "description": ("description", "meta_description", "og_description"),
}
#: Page texts longer than this are cut: the model needs the gist, and a long prompt is slow.
_MAX_CHARS = 400


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(html.unescape(value).split())
    return text[:_MAX_CHARS] or None


def _enrichment_value(lead: Lead, keys: tuple[str, ...], skip: str) -> str | None:
    for name, record in lead.enrichment.items():
        if name == skip:
            continue
        for key in keys:
            text = _clean(record.data.get(key))
            if text:
                return text
    return None


def lead_facts(lead: Lead, *, skip: str = "first_line") -> dict[str, str]:
    """The lead's facts by name (see :data:`LABELS`); a fact the lead lacks is left out.

    ``skip`` names the record not to read (the first line's own).
    """
    categories = [c.strip() for c in [lead.category or "", *lead.categories] if c and c.strip()]
    unique = list(dict.fromkeys(categories))
    facts = {
        "business_name": _clean(lead.business_name),
        "city": _clean(lead.city),
        "category": unique[0] if unique else None,
        "services": ", ".join(unique[1:]) or None,
        **{name: _enrichment_value(lead, keys, skip) for name, keys in _KEYS.items()},
    }
    return {name: value for name, value in facts.items() if value}


def facts_text(facts: dict[str, str]) -> str:
    """The facts as lines of ``Label: value``."""
    return "\n".join(f"{LABELS[name]}: {value}" for name, value in facts.items())


def build_prompt(template: str, facts: dict[str, str], max_words: int) -> str:
    """``template`` with each ``{placeholder}`` filled; a fact the lead lacks becomes "unknown".

    Only ``{lowercase_names}`` are placeholders (the options refuse unknown ones), so other
    braces in a prompt a person wrote (``{"json": 1}``) stay as they are.
    """
    values = {**facts, "facts": facts_text(facts), "max_words": str(max_words)}
    return PLACEHOLDER.sub(lambda match: values.get(match.group(1), "unknown"), template)
