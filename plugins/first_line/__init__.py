"""Built-in plugin ``first_line``: a language model writes each lead's opening sentence.

Off until ``[plugins.first_line] model`` names a model of the ``llm`` library
(``pip install 'outreach[first-line]'``; any model ``llm models`` lists, local or
hosted, with its keys set the ``llm`` way). Then the ``first_line`` enricher asks it,
after the website and email enrichers, for one sentence from what they found: the
business's name, city, category and services, its website's title, headline and
description (see :mod:`.facts`). The answer is checked (:mod:`.grounding`): one
sentence, within ``max_words``, and no name, number or address the facts do not have.

A line that passes is stored as the record's ``first_line``, which templates print as
``{{ first_line }}``. A refused answer, an error or a timeout stores none and says why;
templates then use the plain sentence built from the same facts. A person may edit or
clear the line in the lead's panel, and analysis keeps what they wrote.
"""

from __future__ import annotations

from collections.abc import Callable

from outreach.kernel import Enricher, PluginContext, hookimpl

from .enricher import FirstLineEnricher
from .model import llm_installed, missing_llm
from .options import FirstLineOptions

__all__ = ["FirstLineEnricher", "FirstLineOptions"]

#: Of ``[analysis] enricher_timeout``, the share a model may use: past the analysis's own
#: limit the job records a failure of its own, which may fail a lead over a missing line.
_SHARE_OF_ANALYSIS_TIMEOUT = 0.9


@hookimpl
def register_config_tables(register: Callable[[str, type], None]) -> None:
    """Declare ``[plugins.first_line]``, so a typo in it is an error at start-up."""
    register("plugins.first_line", FirstLineOptions)


@hookimpl
def register_enrichers(register: Callable[[Enricher], None], context: PluginContext) -> None:
    """Provide the ``first_line`` enricher when ``[plugins.first_line] model`` is set."""
    options = context.plugin_options("first_line", FirstLineOptions)
    if options.model is None:
        return
    if not llm_installed():
        raise missing_llm()
    limit = context.settings.analysis.enricher_timeout * _SHARE_OF_ANALYSIS_TIMEOUT
    register(FirstLineEnricher(options, timeout=min(options.timeout, limit)))
