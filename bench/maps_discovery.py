"""Benchmark: Google Maps discovery against the local Maps fixture, beside raw page loading.

For 1, 3 and 6 browser pages it times the ``google_maps`` source finding every place of
a search (scroll the results list to its end, read each place page, merge, de-duplicate)
and, in the same run, Chromium loading the same pages with no extraction at all (the
same list scrolled to its end, then every place page opened on as many pages). The
ratio is what extraction costs on top of loading; the target is at most 1.25.

Run: ``python bench/maps_discovery.py [--places 60] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from maps_fixture import CENTRE, MapsFixture  # noqa: E402
from playwright.async_api import async_playwright  # noqa: E402

from outreach.kernel import DiscoveryQuery  # noqa: E402
from outreach.kernel.config import parse_settings  # noqa: E402
from outreach.kernel.runtime import Runtime  # noqa: E402
from outreach.plugins.google_maps.browser import LAUNCH_ARGS, find_chromium  # noqa: E402
from outreach.plugins.google_maps.grid import Cell  # noqa: E402
from outreach.plugins.google_maps.navigation import search_url  # noqa: E402

QUERY = "dentists"
SCROLL_TO_END = """() => new Promise(resolve => {
  const feed = document.querySelector('div[role="feed"]');
  const step = () => {
    const cards = feed.querySelectorAll('div[role="article"]').length;
    if (document.querySelector('span.HlvSq')) return resolve(cards);
    feed.scrollTop = feed.scrollHeight;
    setTimeout(step, 20);
  };
  step();
})"""


class Counter:
    """A Progress that only counts."""

    cancelled = False

    def __init__(self) -> None:
        self.counters: dict[str, int] = {}

    def set_total(self, total: int | None) -> None:
        return None

    def advance(self, n: int = 1) -> None:
        return None

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def report(self, message: str, *, line: int | None = None, **fields: Any) -> None:
        return None


async def extraction(rt: Runtime, places: int) -> tuple[float, int]:
    """Seconds for the source to yield every place, and how many it yielded."""
    source = rt.plugins.discovery_sources.get("google_maps")
    query = DiscoveryQuery(query=QUERY, location=f"{CENTRE[0]},{CENTRE[1]}", max_results=places)
    started = time.perf_counter()
    found = 0
    async for _ in source.discover(query, Counter()):
        found += 1
    return time.perf_counter() - started, found


async def raw_loading(base_url: str, pages: int, urls: list[str]) -> float:
    """Seconds for Chromium to load the same list (scrolled to its end) and place pages."""
    started = time.perf_counter()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=find_chromium(None), args=LAUNCH_ARGS)
        context = await browser.new_context(viewport={"width": 1024, "height": 768})
        page = await context.new_page()
        cell = Cell(CENTRE[0], CENTRE[1], 14)
        await page.goto(search_url(base_url, QUERY, cell, "en"), wait_until="domcontentloaded")
        await page.evaluate(SCROLL_TO_END)
        queue: asyncio.Queue[str] = asyncio.Queue()
        for url in urls:
            queue.put_nowait(url)

        async def worker() -> None:
            tab = await context.new_page()
            while not queue.empty():
                await tab.goto(queue.get_nowait(), wait_until="domcontentloaded")
            await tab.close()

        await asyncio.gather(*(worker() for _ in range(pages)))
        await browser.close()
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--places", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    fixture = MapsFixture(places=args.places, consent=False, delay_ms=40, broken=False)
    with fixture as maps, tempfile.TemporaryDirectory() as tmp:
        place_urls = [
            p.google_url.replace("https://www.google.com", maps.url) + "&hl=en"
            for p in maps.places_for(QUERY)
            if not p.broken
        ]
        print(f"Maps fixture at {maps.url}: {args.places} places, best of {args.rounds} rounds\n")
        header = ("pages", "places", "extract s", "places/min", "raw load s", "ratio")
        print("  ".join(f"{name:>{len(name) if len(name) > 6 else 6}}" for name in header))
        for pages in (1, 3, 6):
            settings = parse_settings(
                {
                    "data_dir": f"{tmp}/{pages}",
                    "plugins": {
                        "google_maps": {
                            "base_url": maps.url,
                            "pages": pages,
                            "pause": [0, 0],
                            "timeout": 5,
                            "scroll_wait": 0.5,
                            "nominatim_url": "",
                        }
                    },
                }
            )
            rt = await Runtime.open(settings, load_entry_points=False)
            extract_times, raw_times, found = [], [], 0
            for _ in range(args.rounds):
                seconds, found = await extraction(rt, args.places)
                extract_times.append(seconds)
                raw_times.append(await raw_loading(maps.url, pages, place_urls))
            await rt.close()
            best, raw = min(extract_times), min(raw_times)
            median = statistics.median(e / r for e, r in zip(extract_times, raw_times, strict=True))
            print(
                f"{pages:>6}  {found:>6}  {best:>9.2f}  {found / best * 60:>10.0f}  {raw:>10.2f}  "
                f"{best / raw:>6.2f}   (median ratio {median:.2f})"
            )
        print("\nratio = extraction time / raw loading time of the same pages (target: at most 1.25)")


if __name__ == "__main__":
    asyncio.run(main())
