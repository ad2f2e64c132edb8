"""Built-in plugin ``google_places``: businesses from the Google Places API (New) Text Search.

It registers the ``google_places`` discovery source: one HTTPS request per page of 20
places, with a Google Cloud API key (billed per request by Google). Settings come from
``[plugins.google_places]`` (:mod:`.options`); the request and its errors are in
:mod:`.client`, the mapping of a place to a business in :mod:`.mapping`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from outreach.kernel import (
    DiscoveredBusiness,
    DiscoveryQuery,
    DiscoverySource,
    PluginContext,
    Progress,
    hookimpl,
)

from .options import PLUGIN, GooglePlacesOptions
from .search import PlacesSearch


class GooglePlacesSource:
    """Finds businesses with the Places API (New); the options are read at each search."""

    name = PLUGIN
    label = "Google Places API"

    def __init__(self, context: PluginContext) -> None:
        self.context = context

    async def discover(self, query: DiscoveryQuery, progress: Progress) -> AsyncIterator[DiscoveredBusiness]:
        """Yield each place found for ``query`` near ``query.location``."""
        options = self.context.plugin_options(PLUGIN, GooglePlacesOptions)
        async for business in PlacesSearch(options, self.context).discover(query, progress):
            yield business


@hookimpl
def register_config_tables(register: Callable[[str, type], None]) -> None:
    """Declare ``[plugins.google_places]``, so a typo in it is an error at start-up."""
    register("plugins.google_places", GooglePlacesOptions)


@hookimpl
def register_discovery_sources(register: Callable[[DiscoverySource], None], context: PluginContext) -> None:
    """Provide the ``google_places`` discovery source."""
    register(GooglePlacesSource(context))
