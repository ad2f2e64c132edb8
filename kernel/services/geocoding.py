"""Geocoding: place text to coordinates, through the chain of registered geocoders.

``"lat,lng"`` is read directly. Anything else goes to each geocoder in ascending
``order`` (an offline gazetteer first, then online services); the first that knows
the place answers. A geocoder that fails is skipped, and the error a person sees
names it when no other geocoder knew the place either.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import structlog

from ..contracts import GeoPlace
from ..errors import DiscoveryError
from ..protocols import Geocoder

log = structlog.get_logger("outreach.geocoding")

_COORDINATES = re.compile(r"^\s*(-?\d{1,2}(?:\.\d+)?)\s*[,;\s]\s*(-?\d{1,3}(?:\.\d+)?)\s*$")


def parse_coordinates(text: str) -> GeoPlace | None:
    """A place from ``"lat,lng"`` text, or None if the text is not a coordinate pair."""
    match = _COORDINATES.match(text)
    if not match:
        return None
    latitude, longitude = float(match.group(1)), float(match.group(2))
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise DiscoveryError(
            f"'{text.strip()}' is not a position on Earth: latitude goes from -90 to 90, "
            "longitude from -180 to 180."
        )
    return GeoPlace(
        name=f"{latitude},{longitude}", latitude=latitude, longitude=longitude, source="coordinates"
    )


class GeocodingService:
    """Looks places up through the geocoders plugins registered."""

    def __init__(self, geocoders: Callable[[], Iterable[Geocoder]]) -> None:
        self._geocoders = geocoders

    async def geocode(self, text: str, *, language: str = "en") -> GeoPlace:
        """Where ``text`` is; a :class:`DiscoveryError` saying what to try when no geocoder knows."""
        text = " ".join(text.split())
        if not text:
            raise DiscoveryError("The place is empty; name a town ('Austin, TX') or give 'lat,lng'.")
        place = parse_coordinates(text)
        if place is not None:
            return place
        problems: list[str] = []
        for geocoder in self._geocoders():
            try:
                place = await geocoder.geocode(text, language=language)
            except DiscoveryError as exc:
                problems.append(f"{geocoder.name}: {exc}")
                log.warning("geocoder_failed", geocoder=geocoder.name, error=str(exc))
                continue
            except Exception as exc:  # a broken geocoder must not hide the others
                problems.append(f"{geocoder.name}: {exc!r}")
                log.exception("geocoder_crashed", geocoder=geocoder.name)
                continue
            if place is not None:
                log.debug("place_geocoded", geocoder=geocoder.name)
                return place
        hint = f" ({'; '.join(problems)})" if problems else ""
        raise DiscoveryError(
            f"Could not find the place '{text}'{hint}. Check its spelling, add the region or country "
            "(for example 'Austin, TX'), or give coordinates as 'lat,lng'."
        )
