"""The ``google_maps`` discovery source: geocode, search (a grid when needed), read, de-duplicate.

A run opens one browser. Each grid cell is searched on one page (the results feed is
scrolled to its end); the places found are then read on ``pages`` pages at once, each
place page through every strategy (its DOM and its embedded JSON), merged with the card.
A place page that fails or matches nothing keeps the card's data and counts as a miss.
A search that opens one place's page directly yields that place alone, never the related
places its page shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import msgspec
import structlog
from playwright.async_api import BrowserContext, Page
from playwright.async_api import Error as PlaywrightError

from outreach.kernel import (
    DiscoveredBusiness,
    DiscoveryError,
    DiscoveryQuery,
    GeoPlace,
    PluginContext,
    Progress,
    country_near,
    identity_key,
)

from . import grid
from . import selectors as css
from .browser import RateLimited, open_browser, raise_if_sorry
from .fields import rebase
from .navigation import (
    html_when_ready,
    load,
    polite_pause,
    scroll_feed,
    search_url,
    tbm_url,
    wait_for_results,
    with_language,
)
from .options import PLUGIN, GoogleMapsOptions
from .parse_dom import is_place_url, parse_cards, parse_place_page
from .parse_json import parse_app_state, parse_tbm_map
from .result import PlaceResult, merge, to_business, with_url_facts

log = structlog.get_logger("outreach.plugins.google_maps")


def place_key(result: PlaceResult) -> str:
    """The de-duplication key of a result: place id, then data id, then canonical URL."""
    result = with_url_facts(result)
    return identity_key(
        DiscoveredBusiness(
            business_name=result.name or "",
            place_id=result.place_id,
            data_id=result.data_id,
            maps_url=result.maps_url,
            location=result.address,
        )
    )


class MapsSearch:
    """Finds businesses on Google Maps with a real browser."""

    def __init__(self, options: GoogleMapsOptions, context: PluginContext) -> None:
        self.options = options
        self.context = context

    async def discover(self, query: DiscoveryQuery, progress: Progress) -> AsyncIterator[DiscoveredBusiness]:
        """Yield each place found for ``query`` near ``query.location``."""
        search, language, limit = self._search(query)
        await self._refuse_during_cooldown()
        place = await self.context.geocode(query.location, language=language) if query.location else None
        side = int(query.options.get("grid") or grid.grid_side(limit, self.options.per_search))
        cells: list[grid.Cell | None] = list(grid.cells(place, side)) if place else [None]
        log.info(
            "maps_search_started", cells=len(cells), limit=limit, geocoder=place.source if place else None
        )
        region = await _region(place)
        run = _Run(self.options, search, language, limit, region, progress)
        async for business in self._browse(run, _each(cells)):
            yield business

    async def plan(self, query: DiscoveryQuery) -> list[dict[str, Any]]:
        """The grid's cells as units (none when one search is enough or there is no place)."""
        _, language, limit = self._search(query)
        await self._refuse_during_cooldown()
        side = int(query.options.get("grid") or grid.grid_side(limit, self.options.per_search))
        if side < 2 or not query.location:
            return []
        place = await self.context.geocode(query.location, language=language)
        if place is None:
            return []
        region = await _region(place)
        log.info("maps_grid_planned", cells=side * side, limit=limit, geocoder=place.source)
        return [{**msgspec.to_builtins(cell), "region": region} for cell in grid.cells(place, side)]

    async def discover_units(
        self, query: DiscoveryQuery, units: AsyncIterable[dict[str, Any]], progress: Progress
    ) -> AsyncIterator[DiscoveredBusiness]:
        """Yield each place found in the cells taken from ``units``, one browser for them all."""
        search, language, limit = self._search(query)
        await self._refuse_during_cooldown()
        run = _Run(self.options, search, language, limit, None, progress, per_unit=True)

        async def cells() -> AsyncIterator[grid.Cell | None]:
            async for unit in units:
                run.region = unit.get("region")
                yield grid.Cell(unit["latitude"], unit["longitude"], unit["zoom"])

        async for business in self._browse(run, cells()):
            yield business

    def _search(self, query: DiscoveryQuery) -> tuple[str, str, int]:
        """The search text, its language and the most results wanted; errors for a bad query."""
        search = " ".join(query.query.split())
        if not search:
            raise DiscoveryError("The search is empty; say what to look for (for example 'dentists').")
        if query.max_results is not None and query.max_results < 1:
            raise DiscoveryError("The maximum number of results must be at least 1.")
        return search, query.language or self.options.language, query.max_results or self.options.per_search

    async def _browse(
        self, run: _Run, cells: AsyncIterable[grid.Cell | None]
    ) -> AsyncIterator[DiscoveredBusiness]:
        """Search ``cells`` in one browser, turning a rate limit and a browser failure into sentences."""
        try:
            async with open_browser(self.options, run.language) as browser:
                run.browser = browser
                async for business in run.over(cells):
                    yield business
        except RateLimited:
            await self.context.save_state(PLUGIN, "sorry_until", time.time() + self.options.sorry_cooldown)
            log.warning("maps_rate_limited")
            raise
        except PlaywrightError as exc:
            raise DiscoveryError(_browser_problem(exc, self.options.base_url)) from None

    async def _refuse_during_cooldown(self) -> None:
        until = await self.context.load_state(PLUGIN, "sorry_until", 0) or 0
        remaining = until - time.time()
        if remaining > 0:
            raise RateLimited(
                "Google rate-limited the last search (its /sorry/ page), so outreach waits "
                f"{int(remaining // 60) + 1} more minute(s) before searching Maps again."
            )


async def _each(cells: list[grid.Cell | None]) -> AsyncIterator[grid.Cell | None]:
    for cell in cells:
        yield cell


async def _region(place: GeoPlace | None) -> str | None:
    """The country of ``place`` (a region bias for phone numbers), looked up when not known."""
    if place is None or place.country_code is not None:
        return place.country_code if place else None
    return await asyncio.to_thread(country_near, place.latitude, place.longitude)


#: Chromium's network errors that mean the server could not be reached at all.
_UNREACHABLE = re.compile(
    r"net::(ERR_(?:CONNECTION_(?:REFUSED|RESET|TIMED_OUT|CLOSED|FAILED)|NAME_NOT_RESOLVED|ADDRESS_\w+"
    r"|INTERNET_DISCONNECTED|PROXY_CONNECTION_FAILED|TUNNEL_CONNECTION_FAILED|UNSAFE_PORT|TIMED_OUT))"
)


def _browser_problem(exc: PlaywrightError, base_url: str) -> str:
    message = str(exc)
    unreachable = _UNREACHABLE.search(message)
    if unreachable:
        return (
            f"Maps at {base_url} cannot be reached ({unreachable.group(1)}); check the network "
            "connection, the proxy, and [plugins.google_maps] base_url."
        )
    first_line = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    return f"The browser failed while searching Maps at {base_url}: {first_line}"


class _Run:
    """One search run: the state shared by the list page and the place pages."""

    def __init__(
        self,
        options: GoogleMapsOptions,
        search: str,
        language: str,
        limit: int,
        region: str | None,
        progress: Progress,
        *,
        per_unit: bool = False,
    ) -> None:
        self.options = options
        self.search = search
        self.language = language
        self.limit = limit
        self.region = region
        self.progress = progress
        self.browser: BrowserContext
        self.seen: set[str] = set()
        self.yielded = 0
        #: Whether totals count the cell in hand alone (each cell is a unit of a split job).
        self.per_unit = per_unit
        self._seen_before = 0

    def _set_total(self) -> None:
        self.progress.set_total(len(self.seen) - self._seen_before)

    def _new(self, results: list[PlaceResult]) -> list[PlaceResult]:
        """Results not seen in this run, up to what is still wanted."""
        fresh = []
        for result in results:
            key = place_key(result)
            if key in self.seen:
                continue
            self.seen.add(key)
            fresh.append(result)
            if self.yielded + len(fresh) >= self.limit:
                break
        self.progress.count("found", len(fresh))
        return fresh

    def _business(self, result: PlaceResult) -> DiscoveredBusiness | None:
        business = to_business(result, region=self.region)
        if business is not None:
            self.yielded += 1
            self.progress.advance()
        return business

    async def over(self, cells: AsyncIterable[grid.Cell | None]) -> AsyncIterator[DiscoveredBusiness]:
        """Search every cell in turn until enough places were found."""
        list_page = await self.browser.new_page()
        remaining = aiter(cells)
        # Enough is checked before the next cell is taken: taking a unit claims it.
        while self.yielded < self.limit and not self.progress.cancelled:
            try:
                cell = await anext(remaining)
            except StopAsyncIteration:
                break
            if self.per_unit:
                self._seen_before = len(self.seen)
            if self.options.fast_path:
                async for business in self._fast(list_page, cell):
                    yield business
                continue
            url = search_url(self.options.base_url, self.search, cell, self.language)
            await load(list_page, url, self.options)
            shape = await wait_for_results(list_page, self.options)
            if shape == "place":
                async for business in self._landed(list_page, url):
                    yield business
                continue
            if shape == "none":
                self.progress.count("misses")
                self.progress.report("a results page matched none of the expected layouts", url=url)
                log.warning("results_page_missed", cell=cell is not None)
                continue
            feed = await scroll_feed(list_page, self.limit - self.yielded + len(self.seen), self.options)
            cards = self._new(parse_cards(feed))
            self._set_total()
            async for business in self._details(cards):
                yield business

    async def _fast(self, page: Page, cell: grid.Cell | None) -> AsyncIterator[DiscoveredBusiness]:
        """Pages of 20 from the ``tbm=map`` JSON: no scrolling and no place pages."""
        if page.url == "about:blank":
            # Open Maps once as a person would, so consent is answered and its cookie set.
            await load(
                page, search_url(self.options.base_url, self.search, cell, self.language), self.options
            )
        offset = 0
        while self.yielded < self.limit and not self.progress.cancelled:
            await polite_pause(self.options)
            url = tbm_url(self.options.base_url, self.search, cell, self.language, offset)
            response = await self.browser.request.get(url)
            raise_if_sorry(response.url)
            if response.status == 429:
                raise_if_sorry("/sorry/")
            text = await response.text()
            results = parse_tbm_map(text) if response.ok else []
            if not results:
                if not response.ok or not text.lstrip().startswith((")]}'", "[", "{")):
                    self.progress.count("misses")
                    self.progress.report(
                        f"the JSON search answered something else (HTTP {response.status})", url=url
                    )
                return
            for result in self._new(results):
                self.progress.count("details")
                business = self._business(result)
                if business is not None:
                    yield business
            offset += len(results)

    async def _details(self, cards: list[PlaceResult]) -> AsyncIterator[DiscoveredBusiness]:
        """Read each card's place page on a pool of pages, yielding as each one finishes."""
        if not cards:
            return
        pages: asyncio.Queue[Page] = asyncio.Queue()
        for _ in range(min(self.options.pages, max(1, len(cards)))):
            pages.put_nowait(await self.browser.new_page())

        async def read(card: PlaceResult) -> PlaceResult:
            page = await pages.get()
            try:
                return await self._read_place(page, card)
            finally:
                pages.put_nowait(page)

        tasks = [asyncio.create_task(read(card)) for card in cards]
        try:
            for finished in asyncio.as_completed(tasks):
                business = self._business(await finished)
                if business is not None:
                    yield business
                if self.progress.cancelled:
                    break
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
            while not pages.empty():
                await pages.get_nowait().close()

    async def _landed(self, page: Page, url: str) -> AsyncIterator[DiscoveredBusiness]:
        """The one place a search opened directly (its name matched one place): that place only.

        The cards of related places on its page are not results of the search: they are
        neither yielded nor opened.
        """
        log.info("maps_search_landed_on_place", by_url=is_place_url(page.url))
        result = await self._read_landing(page, url)
        for fresh in self._new([result]):
            self._set_total()
            business = self._business(fresh)
            if business is not None:
                yield business

    async def _read_landing(self, page: Page, url: str) -> PlaceResult:
        """The place page the search is on, read where it is (it is not loaded again)."""
        try:
            html, _ = await html_when_ready(page, css.TITLE, self.options)
        except RateLimited:
            raise
        except PlaywrightError as exc:
            raise_if_sorry(page.url)
            return self._miss(PlaceResult(), url, f"the place page did not load ({type(exc).__name__})")
        raise_if_sorry(page.url)
        # Maps may still show the search's URL; the place's own URL is better when known.
        here = page.url if is_place_url(page.url) else None
        result = self._read_html(html, PlaceResult(maps_url=here), url)
        return result if result.maps_url else merge(result, PlaceResult(maps_url=page.url))

    async def _read_place(self, page: Page, card: PlaceResult) -> PlaceResult:
        """The card merged with what its place page shows; the card alone when the page fails."""
        if not card.maps_url:
            return card
        url = with_language(rebase(card.maps_url, self.options.base_url), self.language)
        try:
            await load(page, url, self.options)
            # A page in an unknown layout never shows the title; it is read anyway.
            html, _ = await html_when_ready(page, css.TITLE, self.options)
        except RateLimited:
            raise
        except PlaywrightError as exc:
            raise_if_sorry(page.url)
            return self._miss(card, url, f"the place page did not load ({type(exc).__name__})")
        raise_if_sorry(page.url)
        return self._read_html(html, card, url)

    def _read_html(self, html: str, card: PlaceResult, url: str) -> PlaceResult:
        """A place page's HTML read through every strategy (DOM, embedded JSON), merged with the card."""
        dom = parse_place_page(html, card.maps_url)
        embedded = parse_app_state(html)
        if dom.empty and (embedded is None or embedded.empty):
            return self._miss(card, url, "the place page matched none of the expected selectors")
        self.progress.count("details")
        result = merge(dom, embedded) if embedded is not None else dom
        return merge(result, card)

    def _miss(self, card: PlaceResult, url: str, why: str) -> PlaceResult:
        self.progress.count("misses")
        self.progress.report(why, url=url)
        log.warning("place_page_missed", reason=why)
        return card
