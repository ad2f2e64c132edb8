"""Jinja filters of the app's templates: safe links, numbers, times, state labels."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment
from markupsafe import Markup, escape

from .lead_hints import row_hint

#: Link schemes a page may render from data it did not write (a lead's website, a Maps link).
SAFE_SCHEMES = frozenset({"http", "https", "mailto", "tel"})


def safe_url(value: Any) -> str | None:
    """``value`` if it is a link with a harmless scheme, else None.

    A CSV or a web page can put ``javascript:...`` where a website belongs; escaping
    does not defuse that inside ``href``, so such a value is never made a link.
    """
    if not value:
        return None
    text = str(value).strip()
    scheme = urlsplit(text).scheme.lower()
    if scheme in SAFE_SCHEMES:
        return text
    if not scheme and "." in text and " " not in text and not text.startswith(("/", "\\")):
        # A bare domain ("acme.example") as people type it in spreadsheets.
        return "http://" + text
    return None


def number(value: Any) -> str:
    """An integer with thousands separators (``12,345``)."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


def when(value: datetime | None) -> str:
    """A timestamp as ``2026-11-26 10:04`` (UTC), or an empty string."""
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def label(value: Any) -> str:
    """A state or field name as words (``pending_review`` -> ``pending review``)."""
    return str(value or "").replace("_", " ")


def breakable(value: Any) -> Markup:
    """A path or URL that may wrap after each ``/`` (never in the middle of a word)."""
    return Markup("/<wbr>").join(escape(part) for part in str(value or "").split("/"))


def install(env: Environment) -> None:
    """Add the filters to ``env``."""
    env.filters.update(
        safe_url=safe_url, number=number, when=when, label=label, breakable=breakable, row_hint=row_hint
    )
