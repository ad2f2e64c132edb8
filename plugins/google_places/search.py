"""The ``google_places`` search: geocode the place, ask Text Search page by page, yield businesses."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import structlog

from outreach.kernel import (
    DiscoveredBusiness,
    DiscoveryError,
    DiscoveryQuery,
    GeoPlace,
    OutreachError,
    PluginContext,
    Progress,
)

from .client import PlacesClient
from .mapping import to_business
from .options import MAX_RADIUS_M, GooglePlacesOptions

log = structlog.get_logger("outreach.plugins.google_places")

#: The most results one page of Text Search holds.
PAGE_SIZE = 20

NO_KEY = (
    "The google_places source needs a Google Cloud API key with the Places API (New) enabled: "
    'set [plugins.google_places] api_key = "env:GOOGLE_PLACES_API_KEY" (or a '
    '"keyring:service/name" reference) in outreach.toml, and the key itself in that variable.'
)


def bias_radius(place: GeoPlace, default: float) -> float:
    """Metres around the place that results are biased to: its own size when known."""
    radius = default
    if place.radius_km:
        radius = place.radius_km * 1000
    elif place.bbox:
        south, west, north, east = place.bbox
        height = (north - south) * 111_320
        width = (east - west) * 111_320 * math.cos(math.radians(place.latitude))
        radius = math.hypot(height, width) / 2
    return round(min(max(radius, 100.0), MAX_RADIUS_M), 1)


def request_body(
    text: str, place: GeoPlace | None, language: str, page_size: int, radius: float | None
) -> dict[str, Any]:
    """The JSON body of the first Text Search request (later pages add ``pageToken``)."""
    body: dict[str, Any] = {"textQuery": text, "pageSize": page_size, "languageCode": language}
    if place is not None and radius is not None:
        body["locationBias"] = {
            "circle": {
                "center": {"latitude": place.latitude, "longitude": place.longitude},
                "radius": radius,
            }
        }
    if place is not None and place.country_code:
        body["regionCode"] = place.country_code.lower()
    return body


class PlacesSearch:
    """Finds businesses with the Places API (New) Text Search."""

    def __init__(self, options: GooglePlacesOptions, context: PluginContext) -> None:
        self.options = options
        self.context = context

    def _api_key(self) -> str:
        if self.options.api_key is None:
            raise DiscoveryError(NO_KEY)
        try:
            return self.options.api_key.resolve()
        except OutreachError as exc:
            # A fallback source can take over only from a DiscoveryError.
            raise DiscoveryError(f"The google_places API key cannot be read: {exc}") from None

    async def discover(self, query: DiscoveryQuery, progress: Progress) -> AsyncIterator[DiscoveredBusiness]:
        """Yield each place found for ``query``, biased to ``query.location`` when it names one."""
        text = " ".join(query.query.split())
        if not text:
            raise DiscoveryError("The search is empty; say what to look for (for example 'dentists').")
        if query.max_results is not None and query.max_results < 1:
            raise DiscoveryError("The maximum number of results must be at least 1.")
        key = self._api_key()
        language = query.language or self.options.language
        place = await self.context.geocode(query.location, language=language) if query.location else None
        limit = query.max_results or self.options.max_results
        radius = bias_radius(place, self.options.radius_m) if place else None
        body = request_body(text, place, language, min(PAGE_SIZE, limit), radius)
        region = place.country_code if place else None
        log.info("places_search_started", limit=limit, biased=place is not None)
        seen: set[str] = set()
        async with PlacesClient(self.options.base_url, key, timeout=self.options.timeout) as client:
            token: str | None = None
            while not progress.cancelled:
                page = await client.search({**body, "pageToken": token} if token else body)
                progress.count("pages")
                for item in page.get("places") or []:
                    business = to_business(item, region=region) if isinstance(item, dict) else None
                    if business is None or business.place_id in seen:
                        continue
                    seen.add(business.place_id or "")
                    progress.count("found")
                    progress.advance()
                    yield business
                    if len(seen) >= limit:
                        return
                token = page.get("nextPageToken") or None
                if token is None:
                    return
