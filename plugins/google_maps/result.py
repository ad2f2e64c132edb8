"""The one result type every extraction strategy returns, and how results become businesses.

A place can be read from its card in the results list, from its place page (the DOM),
from the JSON record embedded in the page, or from the ``tbm=map`` JSON. Each gives a
:class:`PlaceResult`; results for one place are merged (the richer strategy first),
and the merged result becomes a :class:`DiscoveredBusiness` with a confidence that
says how many fields were found and how.
"""

from __future__ import annotations

from typing import Any

import msgspec

from outreach.kernel import DiscoveredBusiness, data_id_from_url, place_id_from_url

from .fields import cid_from_data_id, coordinates_from_url, normalize_phone

#: How much each strategy's fields are trusted (the JSON record is Google's own data).
STRATEGY_WEIGHT = {"appinit": 1.0, "tbm_map": 1.0, "place_dom": 0.95, "card": 0.75}

#: The fields whose presence the confidence counts.
KEY_FIELDS = (
    "name",
    "categories",
    "address",
    "phone",
    "website",
    "rating",
    "review_count",
    "coordinates",
    "place_id",
)


class PlaceResult(msgspec.Struct, kw_only=True):
    """What one strategy read about one place; every field may be missing."""

    name: str | None = None
    categories: list[str] = []
    address: str | None = None
    #: The number as shown on the page (not normalized; personal data, never logged).
    phone: str | None = None
    website: str | None = None
    rating: float | None = None
    review_count: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    place_id: str | None = None
    data_id: str | None = None
    plus_code: str | None = None
    hours: list[str] = []
    maps_url: str | None = None
    sponsored: bool = False
    country_code: str | None = None
    city: str | None = None
    strategies: list[str] = []

    def found(self) -> list[str]:
        """The key fields this result has."""
        present = []
        for name in KEY_FIELDS:
            if name == "coordinates":
                if self.latitude is not None and self.longitude is not None:
                    present.append(name)
            elif getattr(self, name) not in (None, "", []):
                present.append(name)
        return present

    @property
    def empty(self) -> bool:
        """Whether nothing that identifies or describes a place was read."""
        return not self.name and not self.place_id and not self.data_id


def merge(primary: PlaceResult, secondary: PlaceResult) -> PlaceResult:
    """``primary`` with its gaps filled from ``secondary``; strategies of both are kept."""
    values: dict[str, Any] = {}
    for field in PlaceResult.__struct_fields__:
        first, second = getattr(primary, field), getattr(secondary, field)
        if field == "strategies":
            values[field] = [*first, *(s for s in second if s not in first)]
        elif field == "sponsored":
            values[field] = first or second
        else:
            values[field] = first if first not in (None, "", []) else second
    return PlaceResult(**values)


def with_url_facts(result: PlaceResult) -> PlaceResult:
    """Fill ids and coordinates that the place's own URL carries."""
    url = result.maps_url
    if not url:
        return result
    coordinates = coordinates_from_url(url) if "/place/" in url else None
    return merge(
        result,
        PlaceResult(
            place_id=place_id_from_url(url),
            data_id=data_id_from_url(url),
            latitude=coordinates[0] if coordinates else None,
            longitude=coordinates[1] if coordinates else None,
        ),
    )


def confidence(result: PlaceResult) -> float:
    """Share of the key fields found, weighted by the most trusted strategy that ran."""
    weight = max((STRATEGY_WEIGHT.get(s, 0.5) for s in result.strategies), default=0.5)
    return round(len(result.found()) / len(KEY_FIELDS) * weight, 2)


def to_business(result: PlaceResult, *, region: str | None = None) -> DiscoveredBusiness | None:
    """The business a result describes, or None if it has no name.

    :param region: the country to read a national phone number in when the result
        does not say (the searched place's country).
    """
    result = with_url_facts(result)
    if not result.name:
        return None
    country = result.country_code or region
    found = result.found()
    raw = {
        name: value
        for name, value in msgspec.to_builtins(result).items()
        # The phone is personal data: it is stored encrypted on the lead, never in clear here.
        if name not in ("phone", "strategies") and value not in (None, "", [], False)
    }
    raw["phone_found"] = result.phone is not None
    metadata = {
        "strategy": "+".join(result.strategies),
        "fields_found": found,
        "sponsored": result.sponsored,
        "plus_code": result.plus_code,
        "hours": result.hours,
        "data_id": result.data_id,
        "cid": cid_from_data_id(result.data_id),
        "raw": raw,
    }
    return DiscoveredBusiness(
        business_name=result.name,
        category=result.categories[0] if result.categories else None,
        categories=list(result.categories),
        location=result.address,
        city=result.city,
        country_code=country,
        latitude=result.latitude,
        longitude=result.longitude,
        phone=normalize_phone(result.phone, country),
        website_url=result.website,
        maps_url=result.maps_url,
        place_id=result.place_id,
        data_id=result.data_id,
        rating=result.rating,
        review_count=result.review_count,
        confidence=confidence(result),
        metadata={k: v for k, v in metadata.items() if v not in (None, [])},
    )
