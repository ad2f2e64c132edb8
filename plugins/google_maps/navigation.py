"""Moving around Maps: search URLs, loading a page past its walls, scrolling the results feed."""

from __future__ import annotations

import asyncio
import random
from urllib.parse import quote, urlencode

import structlog
from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

from . import selectors as css
from .browser import pass_consent, raise_if_sorry
from .grid import Cell
from .options import GoogleMapsOptions
from .parse_dom import Landing, is_place_url, landing

log = structlog.get_logger("outreach.plugins.google_maps")

# Each selector argument is a fallback chain: the first selector that matches anything wins.
_FIND = """const find = (chain, all) => {
  for (const selector of chain) {
    const found = all ? document.querySelectorAll(selector) : document.querySelector(selector);
    if (all ? found.length : found) return found;
  }
  return all ? [] : null;
};"""
#: The results in a feed: cards of the first card selector that matches, leaving out the
#: cards of related places (a carousel inside the feed is not more results).
_COUNT = """const count = (feed, chain, related) => {
  for (const selector of chain) {
    const found = [...feed.querySelectorAll(selector)].filter(card => !card.closest(related));
    if (found.length) return found.length;
  }
  return 0;
};"""
_SCROLL = (
    "([feedChain, cardChain, endChain, related]) => {"
    + _FIND
    + _COUNT
    + """
  const feed = find(feedChain, false);
  if (!feed) return null;
  feed.scrollTop = feed.scrollHeight;
  return {cards: count(feed, cardChain, related), end: !!find(endChain, false)};
}"""
)
_GREW = (
    "([feedChain, cardChain, endChain, related, before]) => {"
    + _FIND
    + _COUNT
    + """
  const feed = find(feedChain, false);
  return !feed || count(feed, cardChain, related) > before || !!find(endChain, false);
}"""
)
#: Wait (in the page) until one selector of the chain matches or the deadline passes, then hand
#: over the HTML: one round trip to the browser instead of a wait and a read.
_HTML_WHEN_READY = (
    "async ([chain, timeoutMs]) => {"
    + _FIND
    + """
  const deadline = Date.now() + timeoutMs;
  while (!find(chain, false) && Date.now() < deadline) await new Promise(r => setTimeout(r, 50));
  return {html: document.documentElement.outerHTML, ready: !!find(chain, false)};
}"""
)
_OUTER = (
    "([feedChain]) => {" + _FIND + " const feed = find(feedChain, false); return feed && feed.outerHTML; }"
)


async def html_when_ready(page: Page, chain: css.Chain, options: GoogleMapsOptions) -> tuple[str, bool]:
    """The page's HTML once an element of ``chain`` is there (or the timeout passed), and which it was."""
    state = await page.evaluate(_HTML_WHEN_READY, [list(chain), options.timeout * 1000])
    return state["html"], state["ready"]


def search_url(base_url: str, query: str, cell: Cell | None, language: str) -> str:
    """``{base}/maps/search/{query}[/@lat,lng,zoomz]?hl={language}``."""
    url = f"{base_url.rstrip('/')}/maps/search/{quote(' '.join(query.split()).replace(' ', '+'), safe='+')}"
    if cell is not None:
        url += f"/@{cell.latitude},{cell.longitude},{cell.zoom}z"
    return f"{url}?{urlencode({'hl': language})}"


def tbm_url(base_url: str, query: str, cell: Cell | None, language: str, offset: int) -> str:
    """The ``/search?tbm=map`` request for one page of 20 results around ``cell``."""
    latitude, longitude, zoom = (cell.latitude, cell.longitude, cell.zoom) if cell else (0.0, 0.0, 3)
    span_m = 40075000 / 2**zoom * 4
    pb = (
        f"!4m12!1m3!1d{span_m:.1f}!2d{longitude}!3d{latitude}!2m3!1f0!2f0!3f0!3m2!1i1024!2i768!4f13.1"
        f"!7i20!8i{offset}!10b1!12m6!2m3!5m1!6e2!20e3!10b1!16b1"
    )
    params = {"tbm": "map", "authuser": "0", "hl": language, "q": query, "pb": pb}
    return f"{base_url.rstrip('/')}/search?{urlencode(params)}"


def with_language(url: str, language: str) -> str:
    """``url`` asking for labels in ``language`` (``hl=``), unless it already does."""
    if "hl=" in url:
        return url
    return f"{url}{'&' if '?' in url else '?'}{urlencode({'hl': language})}"


async def polite_pause(options: GoogleMapsOptions) -> None:
    """Wait a random moment in the configured range, as a person would between pages."""
    low, high = options.pause
    if high > 0:
        await asyncio.sleep(random.uniform(low, high))


async def load(page: Page, url: str, options: GoogleMapsOptions) -> None:
    """Open ``url`` after a polite pause, answering a consent wall and stopping on ``/sorry/``."""
    await polite_pause(options)
    response = await page.goto(url, wait_until="domcontentloaded")
    raise_if_sorry(page.url)
    if response is not None and response.status == 429:
        raise_if_sorry("/sorry/")
    if await pass_consent(page):
        raise_if_sorry(page.url)


async def wait_for_results(page: Page, options: GoogleMapsOptions) -> Landing:
    """What the search page became: ``feed``, ``place`` (one place opened directly) or ``none``."""
    try:
        # A selector wait, not a script: it survives the page navigating while Maps settles.
        await page.wait_for_selector(
            css.first_match(css.FEED + css.TITLE), state="attached", timeout=options.timeout * 1000
        )
    except PlaywrightTimeout:
        raise_if_sorry(page.url)
        return "place" if is_place_url(page.url) else "none"
    raise_if_sorry(page.url)
    return landing(await page.content(), page.url)


async def scroll_feed(page: Page, limit: int, options: GoogleMapsOptions) -> str:
    """Scroll the results feed until the end marker, ``limit`` cards, or no growth; return its HTML."""
    selectors = [list(css.FEED), list(css.CARD), list(css.END_OF_LIST), css.first_match(css.RELATED)]
    idle = 0
    while True:
        state = await page.evaluate(_SCROLL, selectors)
        if state is None or state["end"] or state["cards"] >= limit:
            break
        try:
            await page.wait_for_function(
                _GREW, arg=[*selectors, state["cards"]], timeout=options.scroll_wait * 1000, polling=50
            )
            idle = 0
        except PlaywrightTimeout:
            idle += 1
            if idle >= options.idle_scrolls:
                log.info("feed_stopped_growing", cards=state["cards"])
                break
        raise_if_sorry(page.url)
    return await page.evaluate(_OUTER, [list(css.FEED)]) or await page.content()
