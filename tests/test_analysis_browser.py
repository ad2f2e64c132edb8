"""The Analyze button in a real Chromium: htmx posts it, the progress polls itself, the table refreshes."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn
from playwright.async_api import async_playwright
from support.chromium import CHROMIUM_ARGS, chromium_path

from outreach.kernel import DiscoveredBusiness, Enrichment, hookimpl
from outreach.web import create_app

pytestmark = pytest.mark.browser


class Finder:
    """Finds the same address for every lead, a little slowly, so progress has something to show."""

    name, order = "finder", 1

    async def enrich(self, lead):
        await asyncio.sleep(0.2)
        return Enrichment(
            data={"emails": [{"address": "hello@shop.com", "rank": 1, "own_domain": True}]},
            lead_fields={"email": "hello@shop.com", "score": 0.8},
        )


class Plugin:
    @hookimpl
    def register_enrichers(self, register) -> None:
        register(Finder())


@pytest.fixture
async def served(make_settings, make_runtime) -> AsyncIterator[tuple[str, object]]:
    settings = make_settings(disabled=["website", "email_check", "scoring"])
    rt = await make_runtime(settings, load_entry_points=False, extra_plugins=[("finder", Plugin())])
    for name in ("Corner Shop", "Book Shop", "Flower Shop"):
        await rt.leads.upsert_discovered(DiscoveredBusiness(business_name=name), "test")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(rt, run_background=True), log_config=None, access_log=False, lifespan="on")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):  # uvicorn says it started only through this flag
        if server.started:
            break
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}", rt
    server.should_exit = True
    await task


async def test_analyze_from_the_leads_page(served) -> None:
    base, rt = served
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{base}/leads")
            await page.get_by_role("button", name="Analyze discovered leads").click()
            progress = page.locator("#analysis .analysis-progress")
            await progress.wait_for()
            await page.get_by_text("3 ready for review").wait_for(timeout=15_000)
            assert await progress.get_attribute("hx-get") is None  # polling stopped
            # The table reloaded itself when the analysis ended.
            rows = page.locator("table.leads tbody tr")
            await page.locator('tr[data-state="pending_review"]').nth(2).wait_for(timeout=5_000)
            assert await rows.count() == 3
            assert await page.locator("td.score").first.inner_text() == "0.80"
            await page.locator("td.score a").first.click()
            await page.get_by_text("hello@shop.com").first.wait_for()
            assert "/enrichment" in page.url
        finally:
            await browser.close()
    counts = await rt.leads.count_by_state()
    assert counts["pending_review"] == 3
