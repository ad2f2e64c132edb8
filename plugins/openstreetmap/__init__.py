"""Built-in plugin ``openstreetmap``: businesses from OpenStreetMap, through an Overpass API server.

It registers the ``openstreetmap`` discovery source: one Overpass query for the named
places around the searched place that carry the search's tags (:mod:`.tags` maps common
searches such as "dentists" to tags; ``--tag KEY=VALUE`` names others). The data is
OpenStreetMap's, under the ODbL: "© OpenStreetMap contributors". Settings come from
``[plugins.openstreetmap]`` (:mod:`.options`).
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

from .options import PLUGIN, OpenStreetMapOptions
from .search import OverpassSearch


class OpenStreetMapSource:
    """Finds businesses in OpenStreetMap; the options are read at each search."""

    name = PLUGIN
    label = "OpenStreetMap (Overpass)"

    def __init__(self, context: PluginContext) -> None:
        self.context = context

    async def discover(self, query: DiscoveryQuery, progress: Progress) -> AsyncIterator[DiscoveredBusiness]:
        """Yield each tagged place found around ``query.location``."""
        options = self.context.plugin_options(PLUGIN, OpenStreetMapOptions)
        async for business in OverpassSearch(options, self.context).discover(query, progress):
            yield business


@hookimpl
def register_config_tables(register: Callable[[str, type], None]) -> None:
    """Declare ``[plugins.openstreetmap]``, so a typo in it is an error at start-up."""
    register("plugins.openstreetmap", OpenStreetMapOptions)


@hookimpl
def register_discovery_sources(register: Callable[[DiscoverySource], None], context: PluginContext) -> None:
    """Provide the ``openstreetmap`` discovery source."""
    register(OpenStreetMapSource(context))
