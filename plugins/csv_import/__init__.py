"""Built-in plugin ``csv_import``: leads from a CSV file, as a discovery source named ``csv``.

The query is the file's path; ``options["mapping"]`` maps lead fields to header
names where the aliases in :mod:`.reader` do not find them (an empty header leaves the
field empty). Before a file is imported, :meth:`CsvSource.columns` says what its
columns hold, so the browser can ask for that mapping.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from outreach.kernel import DiscoveredBusiness, DiscoveryQuery, DiscoverySource, Progress, hookimpl

from .columns import ColumnPlan, inspect_columns
from .reader import read_rows, read_text


class CsvSource:
    """Reads businesses from a CSV file, reporting bad rows by line number."""

    name = "csv"
    label = "CSV file"

    def columns(self, data: bytes, name: str) -> ColumnPlan:
        """The header, first rows and recognized columns of the CSV file ``data`` (called ``name``).

        Raises :class:`~outreach.kernel.errors.ImportFileError` for a file the import cannot read.
        """
        return inspect_columns(data, name=name)

    async def discover(self, query: DiscoveryQuery, progress: Progress) -> AsyncIterator[DiscoveredBusiness]:
        """Yield one business per good row of the file at ``query.query``."""
        path = Path(query.query)
        # Reading may block on a slow disk; keep the event loop (and the web app) free.
        text, encoding = await asyncio.to_thread(read_text, path)
        progress.set_total(max(0, text.count("\n") - 1) or None)
        if encoding != "utf-8":
            progress.report(f"the file is not UTF-8; it was read as {encoding}")
        mapping = dict(query.options.get("mapping") or {})
        yielded = 0
        for business, problems in read_rows(text, mapping, name=str(path)):
            for problem in problems:
                progress.report(problem.message, line=problem.line, skipped=problem.skipped)
                if problem.skipped:
                    progress.count("skipped")
            progress.advance()
            if business is None:
                continue
            progress.count("rows")
            yield business
            yielded += 1
            if query.max_results is not None and yielded >= query.max_results:
                return
            if progress.cancelled:
                return


@hookimpl
def register_discovery_sources(register: Callable[[DiscoverySource], None]) -> None:
    """Provide the ``csv`` discovery source."""
    register(CsvSource())
