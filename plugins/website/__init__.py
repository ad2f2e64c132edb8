"""Built-in plugin ``website``: the enricher that reads a lead's own website.

It fetches the home page and up to ``max_pages`` more pages chosen by their links
(contact, imprint, about, team, in several languages), politely (see :mod:`.fetch`),
and extracts (see :mod:`.page`, :mod:`.emails`, :mod:`.phones`):

- email addresses however they are written (``mailto:``, text, entities, ``[at]``
  and ``(dot)`` obfuscations, Cloudflare's ``data-cfemail``), junk dropped, ranked
  with the site's own domain first and third parties last (and marked);
- phone numbers in the lead's region, social profiles, title and description.

The lead's ``email`` becomes the best address found (unless it already has one on
the site's own domain), its ``phone`` the first number when it has none.
"""

from __future__ import annotations

from collections.abc import Callable

from outreach.kernel import Enricher, PluginContext, hookimpl

from .enricher import WebsiteEnricher
from .options import WebsiteOptions

__all__ = ["WebsiteEnricher", "WebsiteOptions"]


@hookimpl
def register_config_tables(register: Callable[[str, type], None]) -> None:
    """Declare ``[plugins.website]``, so a typo in it is an error at start-up."""
    register("plugins.website", WebsiteOptions)


@hookimpl
def register_enrichers(register: Callable[[Enricher], None], context: PluginContext) -> None:
    """Provide the ``website`` enricher, configured from ``[plugins.website]``."""
    register(WebsiteEnricher(context.plugin_options("website", WebsiteOptions)))
