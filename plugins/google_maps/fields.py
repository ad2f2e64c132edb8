"""Small readers for the values Maps shows: numbers, phones, redirects, ids and places in URLs.

Maps writes the same value many ways ("4.7", "4,7"; "(91,790)", "1.670", "1.2K";
"Phone: (213) 473-0800"); these turn each into one plain value or None, never raise.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urljoin, urlsplit, urlunsplit

import phonenumbers

_SPACES = re.compile(r"[\s\u00a0\u202f\u2009\u200b\u200e\u200f]+")
_RATING = re.compile(r"(?<![\d.,])([0-5](?:[.,]\d)?)(?![\d])")
_COUNT = re.compile(r"(\d[\d.,\u00a0\u202f\u2009 ]*)\s*([KkMm](?![a-z]))?")
_AT = re.compile(r"@(-?\d{1,2}\.\d+),(-?\d{1,3}\.\d+)")
_BANG = re.compile(r"!3d(-?\d{1,2}\.\d+)!4d(-?\d{1,3}\.\d+)")
_LABEL = re.compile(r"^[^:：]{1,40}[:：]\s*")


def clean(text: str | None) -> str | None:
    """Text with every kind of space made one plain space, trimmed; None when nothing is left."""
    if text is None:
        return None
    cleaned = _SPACES.sub(" ", text).strip(" ·⋅\ue0c8")
    return cleaned or None


def without_label(text: str | None) -> str | None:
    """``"Address: 1 Main St"`` without its ``"Address: "`` label (any language)."""
    cleaned = clean(text)
    if cleaned is None:
        return None
    return clean(_LABEL.sub("", cleaned, count=1))


def parse_rating(text: str | None) -> float | None:
    """A star rating from ``"4.7"``, ``"4,7"`` or ``"4.8 stars 91,790 Reviews"``."""
    if not text:
        return None
    match = _RATING.search(clean(text) or "")
    if not match:
        return None
    value = float(match.group(1).replace(",", "."))
    return value if 0 <= value <= 5 else None


def parse_count(text: str | None) -> int | None:
    """A count from ``"(91,790)"``, ``"17,059 reviews"``, ``"1.670"`` or ``"(1.2K)"``."""
    if not text:
        return None
    match = _COUNT.search(text)
    if not match:
        return None
    number, suffix = match.group(1).strip(), match.group(2)
    if suffix:
        # "1.2K": an abbreviation, so the separator is a decimal point.
        try:
            value = float(number.replace(",", ".").replace(" ", ""))
        except ValueError:
            return None
        return int(value * (1000 if suffix in "Kk" else 1_000_000))
    digits = re.sub(r"\D", "", number)
    return int(digits) if digits else None


def normalize_phone(text: str | None, region: str | None = None) -> str | None:
    """The number in E.164 (``+35725101555``) when it parses for ``region``, else as shown."""
    shown = without_label(text)
    if not shown:
        return None
    if shown.lower().startswith("tel:"):
        shown = shown[4:]
    try:
        number = phonenumbers.parse(shown, region.upper() if region else None)
    except phonenumbers.NumberParseException:
        return shown
    if phonenumbers.is_possible_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return shown


def unwrap_redirect(href: str | None) -> str | None:
    """The real address behind a Google ``/url?q=...`` redirect (or the link itself)."""
    if not href:
        return None
    href = href.strip()
    parts = urlsplit(href)
    if parts.path.rstrip("/").endswith("/url") or parts.path == "/url":
        query = parse_qs(parts.query)
        for key in ("q", "url"):
            if query.get(key) and query[key][0].startswith(("http://", "https://")):
                return query[key][0]
    return href if parts.scheme in ("http", "https") else None


def coordinates_from_url(url: str | None) -> tuple[float, float] | None:
    """The place's own ``!3d!4d`` coordinates in a Maps URL, else the map's ``@lat,lng``."""
    if not url:
        return None
    decoded = unquote(unquote(url))
    match = _BANG.search(decoded) or _AT.search(decoded)
    if not match:
        return None
    return float(match.group(1)), float(match.group(2))


def cid_from_data_id(data_id: str | None) -> str | None:
    """The decimal customer id (``cid``) carried by the second half of a hex data id."""
    if not data_id or ":" not in data_id:
        return None
    try:
        return str(int(data_id.split(":", 1)[1], 16))
    except ValueError:
        return None


def rebase(url: str, base_url: str) -> str:
    """``url`` (absolute on a Google host, or relative) moved onto ``base_url``.

    Place links on a results page point at ``www.google.com``; following them on the
    configured base keeps every request on one host (a local server in tests).
    """
    base = urlsplit(base_url)
    absolute = urlsplit(urljoin(base_url.rstrip("/") + "/", url))
    host = absolute.hostname or ""
    if host == base.hostname or "google." in host or not host:
        prefix = base.path.rstrip("/")
        path = absolute.path if absolute.path.startswith(prefix + "/") else prefix + absolute.path
        return urlunsplit((base.scheme, base.netloc, path, absolute.query, absolute.fragment))
    return urlunsplit(absolute)
