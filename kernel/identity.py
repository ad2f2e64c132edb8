"""Telling whether two discovered businesses are the same one.

A lead's identity key is, in order of preference: its Google place id, its Maps data
id (``0x...:0x...``), its canonical Maps URL, its website's domain with its
normalized name, or its normalized name with its address. Ids hidden in a Maps URL
(``!19s``, ``!1s``, ``cid=``, ``query_place_id=``) count as ids, so a CSV row carrying
only a Maps link matches the lead a Maps search found.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import parse_qs, unquote, urlsplit

from .contracts import DiscoveredBusiness

_PLACE_ID = re.compile(r"!19s(ChI[\w-]+)")
_DATA_ID = re.compile(r"!1s(0x[0-9a-fA-F]+:0x[0-9a-fA-F]+)")
_DATA_ID_PLAIN = re.compile(r"(0x[0-9a-fA-F]+:0x[0-9a-fA-F]+)")


def normalize_name(name: str) -> str:
    """Case-folded, accent-free, punctuation-free, single-spaced."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = re.sub(r"[^\w]+", " ", text)
    return " ".join(text.split())


def website_domain(url: str | None) -> str | None:
    """The registrable-looking host of a website URL, without ``www.``; None if there is none."""
    if not url:
        return None
    candidate = url.strip()
    if "://" not in candidate:
        candidate = "http://" + candidate
    host = (urlsplit(candidate).hostname or "").lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    return host or None


def place_id_from_url(url: str | None) -> str | None:
    """The place id inside a Maps URL (``!19s...`` or ``query_place_id=...``)."""
    if not url:
        return None
    decoded = unquote(url)
    match = _PLACE_ID.search(decoded)
    if match:
        return match.group(1)
    query = parse_qs(urlsplit(decoded).query)
    for key in ("query_place_id", "place_id"):
        if query.get(key):
            return query[key][0]
    return None


def data_id_from_url(url: str | None) -> str | None:
    """The hex data id inside a Maps URL (``!1s0x...:0x...`` or ``ftid=``)."""
    if not url:
        return None
    decoded = unquote(url)
    match = _DATA_ID.search(decoded)
    if match:
        return match.group(1).lower()
    query = parse_qs(urlsplit(decoded).query)
    if query.get("ftid"):
        plain = _DATA_ID_PLAIN.search(query["ftid"][0])
        if plain:
            return plain.group(1).lower()
    return None


def canonical_maps_url(url: str) -> str:
    """A Maps URL reduced to what identifies the place: ``cid`` or the place path."""
    parts = urlsplit(unquote(url.strip()))
    query = parse_qs(parts.query)
    if query.get("cid"):
        return f"cid:{query['cid'][0]}"
    path = re.split(r"/(?:@|data=)", parts.path, maxsplit=1)[0].rstrip("/")
    return f"{(parts.hostname or '').lower()}{path.lower()}"


def identity_key(business: DiscoveredBusiness) -> str:
    """The key that makes two discoveries of one business the same lead."""
    place_id = business.place_id or place_id_from_url(business.maps_url)
    if place_id:
        return f"place:{place_id}"
    data_id = (business.data_id or "").lower() or data_id_from_url(business.maps_url)
    if data_id:
        return f"data:{data_id}"
    if business.maps_url:
        return f"maps:{canonical_maps_url(business.maps_url)}"
    name = normalize_name(business.business_name)
    domain = website_domain(business.website_url)
    if domain:
        return f"site:{domain}|{name}"
    return f"name:{name}|{normalize_name(business.location or '')}"
