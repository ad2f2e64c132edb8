"""Built-in plugin ``google_maps``: businesses from Google Maps searches, and the geocoders.

It registers the ``google_maps`` discovery source (a real Chromium driven by
Playwright; see :mod:`.source`) and two geocoders: an offline gazetteer and Nominatim
(see :mod:`.geocoding`). Settings come from ``[plugins.google_maps]`` (:mod:`.options`).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any

from outreach.kernel import (
    DiscoveredBusiness,
    DiscoveryQuery,
    DiscoverySource,
    Geocoder,
    PluginContext,
    Progress,
    hookimpl,
)

from .geocoding import GazetteerGeocoder, NominatimGeocoder
from .options import PLUGIN, GoogleMapsOptions


class GoogleMapsSource:
    """Finds businesses on Google Maps with a real browser.

    The browser code (and Playwright, about 30 MB) loads on the first search, not when
    outreach starts.
    """

    name = PLUGIN
    label = "Google Maps"

    def __init__(self, options: GoogleMapsOptions, context: PluginContext) -> None:
        self.options = options
        self.context = context

    def readiness(self) -> str | None:
        """What stops a search before it starts (no Chromium), with the fix; None when it can run."""
        from .chromium import chromium_problem

        return chromium_problem(self.options.chromium)

    async def discover(self, query: DiscoveryQuery, progress: Progress) -> AsyncIterator[DiscoveredBusiness]:
        """Yield each place found for ``query`` near ``query.location``."""
        from .source import MapsSearch

        async for business in MapsSearch(self.options, self.context).discover(query, progress):
            yield business

    async def plan(self, query: DiscoveryQuery) -> list[dict[str, Any]]:
        """The cells of the grid a large search needs, which several workers can search at once."""
        from .source import MapsSearch

        return await MapsSearch(self.options, self.context).plan(query)

    async def discover_units(
        self, query: DiscoveryQuery, units: AsyncIterable[dict[str, Any]], progress: Progress
    ) -> AsyncIterator[DiscoveredBusiness]:
        """Yield each place found in the cells this worker takes from ``units``."""
        from .source import MapsSearch

        async for business in MapsSearch(self.options, self.context).discover_units(query, units, progress):
            yield business


def _options(context: PluginContext) -> GoogleMapsOptions:
    return context.plugin_options(PLUGIN, GoogleMapsOptions)


@hookimpl
def register_config_tables(register: Callable[[str, type], None]) -> None:
    """Declare ``[plugins.google_maps]``, so a typo in it is an error at start-up."""
    register("plugins.google_maps", GoogleMapsOptions)


@hookimpl
def register_discovery_sources(register: Callable[[DiscoverySource], None], context: PluginContext) -> None:
    """Provide the ``google_maps`` discovery source."""
    register(GoogleMapsSource(_options(context), context))


@hookimpl
def register_geocoders(register: Callable[[Geocoder], None], context: PluginContext) -> None:
    """Provide the offline gazetteer and, unless turned off, Nominatim."""
    options = _options(context)
    register(GazetteerGeocoder())
    if options.nominatim_url:
        register(
            NominatimGeocoder(
                options.nominatim_url,
                context.data_dir / "cache" / "nominatim.json",
                contact=options.nominatim_contact,
                interval=options.nominatim_interval,
            )
        )
