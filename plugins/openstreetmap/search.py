"""The ``openstreetmap`` search: geocode the place, ask Overpass for tagged places around it."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Any

import structlog

from outreach.kernel import (
    DiscoveredBusiness,
    DiscoveryError,
    DiscoveryQuery,
    PluginContext,
    Progress,
    country_near,
)

from .client import OverpassClient
from .mapping import coordinates, identity, to_business
from .options import OpenStreetMapOptions
from .query import overpass_query
from .tags import search_tags

log = structlog.get_logger("outreach.plugins.openstreetmap")

NO_PLACE = (
    "An OpenStreetMap search looks around a place: say where with --near (a town such as "
    "'Austin, TX', or 'lat,lng')."
)


def _distance(element: dict[str, Any], latitude: float, longitude: float) -> float:
    """Rough distance in degrees, enough to put the nearest places first."""
    point = coordinates(element)
    if point is None:
        return math.inf
    return math.hypot(point[0] - latitude, (point[1] - longitude) * math.cos(math.radians(latitude)))


def _radius(query: DiscoveryQuery, default: int) -> int:
    value = query.options.get("radius_m", default)
    try:
        radius = int(value)
    except (TypeError, ValueError):
        radius = 0
    if not 1 <= radius <= 100_000:
        raise DiscoveryError(f"The radius must be from 1 to 100000 metres, not {value!r}.")
    return radius


def _raw_tags(query: DiscoveryQuery) -> list[str]:
    raw = query.options.get("tags") or []
    if isinstance(raw, str):
        raw = [raw]
    return [str(item) for item in raw]


class OverpassSearch:
    """Finds named places with the wanted tags around the searched place."""

    def __init__(self, options: OpenStreetMapOptions, context: PluginContext) -> None:
        self.options = options
        self.context = context

    async def discover(self, query: DiscoveryQuery, progress: Progress) -> AsyncIterator[DiscoveredBusiness]:
        """Yield each place found for ``query``, nearest first."""
        if query.max_results is not None and query.max_results < 1:
            raise DiscoveryError("The maximum number of results must be at least 1.")
        wanted = search_tags(query.query, _raw_tags(query))
        if not query.location:
            raise DiscoveryError(NO_PLACE)
        radius = _radius(query, self.options.radius_m)
        place = await self.context.geocode(query.location, language=query.language or "en")
        region = place.country_code or await asyncio.to_thread(country_near, place.latitude, place.longitude)
        text = overpass_query(wanted, place.latitude, place.longitude, radius, self.options.timeout)
        log.info("overpass_search_started", tags=[str(tag) for tag in wanted], radius_m=radius)
        answer = await OverpassClient(self.options).run(text)
        elements = [e for e in answer.get("elements") or [] if isinstance(e, dict)]
        elements.sort(key=lambda element: _distance(element, place.latitude, place.longitude))
        progress.count("pages")
        seen: set[str] = set()
        limit = query.max_results
        for element in elements:
            if progress.cancelled or (limit is not None and len(seen) >= limit):
                return
            business = to_business(element, wanted, region=region)
            if business is None or identity(element) in seen:
                continue
            seen.add(identity(element))
            progress.count("found")
            progress.advance()
            yield business
