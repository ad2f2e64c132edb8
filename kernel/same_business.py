"""Telling whether two sources found the same business under different ids.

One source's id means nothing to another (Google's place id ``ChIJ...`` against
OpenStreetMap's ``osm:node/123``), so :func:`~outreach.kernel.identity.identity_key`
cannot match them. Two discoveries are the same business when their normalized names
are equal and at least one of these holds:

- their websites have the same host (ignoring ``www.``);
- their coordinates are within :data:`NEAR_METRES` of each other;
- their phone numbers have the same digits (one may carry the country code the other
  leaves out).

Two ids of the same kind that differ (two Google place ids) are two businesses even
when the rule above holds: that source already told them apart (a chain's two shops
in one mall).

The name comes first so the store finds candidates with one indexed look-up by
normalized name (the ``name_key`` column); the rest is compared in Python.
"""

from __future__ import annotations

import math
import re

import msgspec

from .contracts import DiscoveredBusiness
from .identity import normalize_name, website_domain

#: How far apart two sightings of one business may be, in metres.
NEAR_METRES = 75.0
#: The fewest digits a phone number needs to be compared by its ending.
_MIN_PHONE_DIGITS = 8
_EARTH_RADIUS_M = 6_371_000.0


class StoredPlace(msgspec.Struct, kw_only=True):
    """The compared fields of a stored lead, read without the rest of its row."""

    business_name: str
    website_url: str | None
    latitude: float | None
    longitude: float | None
    phone: str | None
    place_id: str | None


#: What is compared: a discovered business or the compared fields of a stored lead.
Place = DiscoveredBusiness | StoredPlace


def name_key(name: str | None) -> str:
    """The normalized name the store looks candidates up by."""
    return normalize_name(name or "")


def phone_digits(phone: str | None) -> str | None:
    """The digits of a phone number without leading zeros (trunk or international prefix)."""
    digits = re.sub(r"\D", "", phone or "").lstrip("0")
    return digits or None


def same_phone(a: str | None, b: str | None) -> bool:
    """Whether two phone numbers are one, with or without the country code."""
    first, second = phone_digits(a), phone_digits(b)
    if first is None or second is None:
        return False
    short, long = sorted((first, second), key=len)
    return short == long or (len(short) >= _MIN_PHONE_DIGITS and long.endswith(short))


def distance_metres(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """The great-circle distance between two points (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi, d_lambda = phi2 - phi1, math.radians(lng2 - lng1)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def id_kind(place_id: str) -> str:
    """The namespace of an id: the prefix of ``osm:node/123``, else ``google``."""
    prefix, colon, _ = place_id.partition(":")
    return prefix.lower() if colon else "google"


def _ids_conflict(a: str | None, b: str | None) -> bool:
    return bool(a and b and a != b and id_kind(a) == id_kind(b))


def _near(a: Place, b: Place) -> bool:
    if None in (a.latitude, a.longitude, b.latitude, b.longitude):
        return False
    return distance_metres(a.latitude, a.longitude, b.latitude, b.longitude) <= NEAR_METRES  # type: ignore[arg-type]


def same_business(a: Place, b: Place) -> bool:
    """Whether ``a`` and ``b`` are one business, by the rule in this module's docstring."""
    key = name_key(a.business_name)
    if not key or key != name_key(b.business_name) or _ids_conflict(a.place_id, b.place_id):
        return False
    domain = website_domain(a.website_url)
    if domain is not None and domain == website_domain(b.website_url):
        return True
    return _near(a, b) or same_phone(a.phone, b.phone)
