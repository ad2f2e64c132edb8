"""A place of the Places API (New) as a :class:`DiscoveredBusiness`, with the fields Maps gives.

The place's ``id`` is the place id Google Maps pages carry (``ChIJ...``), so a place found
here and by the ``google_maps`` source is one lead.
"""

from __future__ import annotations

from typing import Any

import phonenumbers

from outreach.kernel import DiscoveredBusiness

#: The fields whose presence the confidence counts (as the ``google_maps`` source counts them).
KEY_FIELDS = (
    "name",
    "category",
    "address",
    "phone",
    "website",
    "rating",
    "review_count",
    "coordinates",
    "id",
)

#: Place types that say nothing about the business.
_GENERIC_TYPES = {"point_of_interest", "establishment", "store", "food", "health", "political"}


def _text(value: Any) -> str | None:
    """The ``text`` of a localized text object (``{"text": ..., "languageCode": ...}``)."""
    if isinstance(value, dict):
        value = value.get("text")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _component(components: list[dict[str, Any]], *types: str, short: bool = False) -> str | None:
    """The first address component of one of ``types``, in that order of preference."""
    for wanted in types:
        for component in components:
            if wanted in (component.get("types") or []):
                value = component.get("shortText" if short else "longText") or component.get("longText")
                if isinstance(value, str) and value.strip():
                    return value.strip()
    return None


def normalize_phone(international: str | None, national: str | None, region: str | None) -> str | None:
    """The number in E.164 when it parses, else as the API wrote it."""
    shown = international or national
    if not shown:
        return None
    try:
        number = phonenumbers.parse(shown, None if international else (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return shown
    if phonenumbers.is_possible_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return shown


def humanize(place_type: str) -> str:
    """``car_repair`` as ``Car repair``."""
    return place_type.replace("_", " ").capitalize()


def to_business(place: dict[str, Any], *, region: str | None = None) -> DiscoveredBusiness | None:
    """The business one place describes, or None when it has no name or id.

    :param region: the country to read a national phone number in when the place's
        address does not say (the searched place's country).
    """
    name = _text(place.get("displayName"))
    place_id = place.get("id") if isinstance(place.get("id"), str) else None
    if not name or not place_id:
        return None
    components = [c for c in place.get("addressComponents") or [] if isinstance(c, dict)]
    country = _component(components, "country", short=True) or region
    country = country.upper() if country else None
    types = [t for t in place.get("types") or [] if isinstance(t, str)]
    specific = [t for t in types if t not in _GENERIC_TYPES]
    category = _text(place.get("primaryTypeDisplayName"))
    if category is None and (place.get("primaryType") or specific):
        category = humanize(place.get("primaryType") or specific[0])
    location = place.get("location") or {}
    latitude, longitude = location.get("latitude"), location.get("longitude")
    rating = place.get("rating")
    reviews = place.get("userRatingCount")
    fields = {
        "name": name,
        "category": category,
        "address": place.get("formattedAddress"),
        "phone": place.get("internationalPhoneNumber") or place.get("nationalPhoneNumber"),
        "website": place.get("websiteUri"),
        "rating": rating,
        "review_count": reviews,
        "coordinates": (latitude, longitude) if latitude is not None and longitude is not None else None,
        "id": place_id,
    }
    found = [key for key in KEY_FIELDS if fields[key] not in (None, "")]
    metadata = {
        "strategy": "places_api",
        "fields_found": found,
        "types": types,
        "primary_type": place.get("primaryType"),
        "business_status": place.get("businessStatus"),
    }
    return DiscoveredBusiness(
        business_name=name,
        category=category,
        categories=[category] if category else [],
        location=place.get("formattedAddress") or None,
        city=_component(components, "locality", "postal_town"),
        country_code=country,
        latitude=float(latitude) if latitude is not None else None,
        longitude=float(longitude) if longitude is not None else None,
        phone=normalize_phone(
            place.get("internationalPhoneNumber"), place.get("nationalPhoneNumber"), country
        ),
        website_url=place.get("websiteUri") or None,
        maps_url=place.get("googleMapsUri") or None,
        place_id=place_id,
        rating=float(rating) if isinstance(rating, int | float) else None,
        review_count=int(reviews) if isinstance(reviews, int) else None,
        # The API's own record of the place: every field it has is Google's data.
        confidence=round(len(found) / len(KEY_FIELDS), 2),
        metadata={k: v for k, v in metadata.items() if v not in (None, [])},
    )
