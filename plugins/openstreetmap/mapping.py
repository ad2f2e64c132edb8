"""An Overpass element (a node, a way or a relation) as a :class:`DiscoveredBusiness`.

The element's identity, ``osm:node/123``, goes where a place id goes, so a place found
twice is one lead. Phone numbers and emails are kept on the lead only (encrypted there),
never in the discovery metadata.
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers

from outreach.kernel import DiscoveredBusiness

from .tags import Tag

#: Attribution the ODbL asks for wherever the data is shown.
ATTRIBUTION = "© OpenStreetMap contributors"

#: Countries that write the house number before the street ("12 Main St").
NUMBER_FIRST = {"US", "CA", "GB", "IE", "AU", "NZ", "FR", "BE", "LU", "IL", "IN", "ZA", "SG", "MY", "PH"}

#: Countries that write the state and postcode after the city ("Austin, TX 78701").
STATE_AFTER_CITY = {"US", "CA", "AU"}

#: Tags that hold personal data or are read into the lead's own fields.
_PRIVATE_TAGS = (
    "phone",
    "contact:phone",
    "mobile",
    "contact:mobile",
    "fax",
    "contact:fax",
    "email",
    "contact:email",
)

_EMAIL = re.compile(r"^[^@\s<>(),;:\"]+@[^@\s<>(),;:\"]+\.[^@\s<>(),;:\"]{2,}$")


def identity(element: dict[str, Any]) -> str:
    """``osm:node/123``, ``osm:way/456`` or ``osm:relation/789``."""
    return f"osm:{element['type']}/{element['id']}"


def coordinates(element: dict[str, Any]) -> tuple[float, float] | None:
    """A node's position, or the centre Overpass computed for a way or relation."""
    point = element if "lat" in element else element.get("center") or {}
    if point.get("lat") is None or point.get("lon") is None:
        return None
    return float(point["lat"]), float(point["lon"])


def first_value(tags: dict[str, str], *keys: str) -> str | None:
    """The first value of the first key present (``a;b`` holds two values)."""
    for key in keys:
        value = (tags.get(key) or "").split(";")[0].strip()
        if value:
            return value
    return None


def address(tags: dict[str, str], country: str | None) -> str | None:
    """The ``addr:*`` tags as one line written in the country's order."""
    if tags.get("addr:full"):
        return tags["addr:full"].strip()
    number, street = tags.get("addr:housenumber"), tags.get("addr:street") or tags.get("addr:place")
    city, postcode, state = tags.get("addr:city"), tags.get("addr:postcode"), tags.get("addr:state")
    parts = []
    if street:
        line = [number, street] if country in NUMBER_FIRST else [street, number]
        parts.append(" ".join(p for p in line if p))
    if country in STATE_AFTER_CITY:
        parts.append(city or "")
        parts.append(" ".join(p for p in (state, postcode) if p))
    else:
        parts.append(" ".join(p for p in (postcode, city) if p))
        parts.append(state or "")
    if tags.get("addr:country"):
        parts.append(tags["addr:country"].strip())
    text = ", ".join(p for p in parts if p)
    return text or None


def website(tags: dict[str, str]) -> str | None:
    """The website, with a scheme (OpenStreetMap often has ``www.example.com``)."""
    url = first_value(tags, "website", "contact:website", "url")
    if not url:
        return None
    return url if re.match(r"^https?://", url, re.IGNORECASE) else f"https://{url}"


def email(tags: dict[str, str]) -> str | None:
    """The email address when it is tagged and looks like one."""
    value = first_value(tags, "email", "contact:email")
    if value and value.lower().startswith("mailto:"):
        value = value[7:]
    # Lower case, not casefold: casefold turns ß into ss, another domain.
    return value.lower() if value and _EMAIL.match(value) else None


def phone(tags: dict[str, str], country: str | None) -> str | None:
    """The phone number in E.164 when it parses, else as tagged."""
    shown = first_value(tags, "phone", "contact:phone", "mobile", "contact:mobile")
    if not shown:
        return None
    try:
        number = phonenumbers.parse(shown, country)
    except phonenumbers.NumberParseException:
        return shown
    if phonenumbers.is_possible_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return shown


def matched_tag(tags: dict[str, str], wanted: tuple[Tag, ...]) -> Tag | None:
    """The first of ``wanted`` the element has (with its own value for ``key=*``)."""
    for tag in wanted:
        value = tags.get(tag.key)
        if value is not None and (tag.value is None or value == tag.value):
            return Tag(tag.key, value)
    return None


def to_business(
    element: dict[str, Any], wanted: tuple[Tag, ...], *, region: str | None = None
) -> DiscoveredBusiness | None:
    """The business an element describes, or None when it has no name.

    :param wanted: the tags searched; the first the element has is its category.
    :param region: the searched place's country, for an element whose address says none.
    """
    tags = {str(k): str(v) for k, v in (element.get("tags") or {}).items()}
    name = (tags.get("name") or "").strip()
    if not name or element.get("type") not in ("node", "way", "relation") or "id" not in element:
        return None
    tagged_country = (tags.get("addr:country") or "").strip().upper()
    country = tagged_country if len(tagged_country) == 2 else (region.upper() if region else None)
    point = coordinates(element)
    tag = matched_tag(tags, wanted)
    category = tag.label() if tag else None
    key = identity(element)
    metadata = {
        "osm_type": element["type"],
        "osm_id": element["id"],
        "osm_url": f"https://www.openstreetmap.org/{element['type']}/{element['id']}",
        "matched_tag": str(tag) if tag else None,
        "tags": {k: v for k, v in tags.items() if k not in _PRIVATE_TAGS},
        "attribution": ATTRIBUTION,
        "license": "ODbL-1.0",
    }
    fields = [tags.get("addr:street"), tags.get("addr:city"), point, website(tags), phone(tags, country)]
    return DiscoveredBusiness(
        business_name=name,
        category=category,
        categories=[category] if category else [],
        location=address(tags, country),
        city=(tags.get("addr:city") or "").strip() or None,
        country_code=country,
        latitude=point[0] if point else None,
        longitude=point[1] if point else None,
        phone=phone(tags, country),
        website_url=website(tags),
        email=email(tags),
        place_id=key,
        # Mappers' data: a name and a tag always, the rest as far as someone entered it.
        confidence=round(0.5 + 0.1 * sum(1 for field in fields if field), 2),
        metadata={k: v for k, v in metadata.items() if v is not None},
    )
