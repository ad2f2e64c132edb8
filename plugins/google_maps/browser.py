"""Chromium through Playwright: finding the binary, launching it, and Google's two walls.

One browser per search run, one context (so the consent cookie is kept for the whole
run) with a user agent picked from the configured list, an optional proxy, and the
flags that stop Chromium from phoning home on its own.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import structlog
from playwright.async_api import BrowserContext, Page, async_playwright
from playwright.async_api import Error as PlaywrightError

from outreach.kernel import DiscoveryError

from .chromium import find_chromium, install_hint
from .options import GoogleMapsOptions
from .selectors import CONSENT_BUTTON, CONSENT_FORM, first_match

log = structlog.get_logger("outreach.plugins.google_maps")

LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class RateLimited(DiscoveryError):
    """Google answered with its ``/sorry/`` page: this client must slow down."""


def _exists(path: str) -> bool:
    """Whether a file is there (one stat call; fine on the event loop)."""
    return Path(path).is_file()


def _proxy(options: GoogleMapsOptions) -> dict[str, str] | None:
    if options.proxy is None:
        return None
    proxy = {"server": options.proxy.server}
    if options.proxy.username:
        proxy["username"] = options.proxy.username
    if options.proxy.password is not None:
        proxy["password"] = options.proxy.password.resolve()
    if options.proxy.bypass:
        proxy["bypass"] = options.proxy.bypass
    return proxy


@asynccontextmanager
async def open_browser(options: GoogleMapsOptions, language: str) -> AsyncIterator[BrowserContext]:
    """A fresh browser context; the browser closes when the block ends."""
    executable = find_chromium(options.chromium)
    async with async_playwright() as playwright:
        if executable is None and not _exists(playwright.chromium.executable_path):
            raise DiscoveryError(f"No Chromium was found. {install_hint()}")
        launch: dict[str, Any] = {"headless": options.headless, "args": LAUNCH_ARGS}
        if executable:
            launch["executable_path"] = executable
        proxy = _proxy(options)
        if proxy:
            launch["proxy"] = proxy
        try:
            browser = await playwright.chromium.launch(**launch)
        except PlaywrightError as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DiscoveryError(
                f"Chromium ({executable or 'Playwright build'}) would not start: {first_line}. "
                + install_hint()
            ) from None
        try:
            context = await browser.new_context(
                user_agent=random.choice(options.user_agents),
                locale=language,
                viewport={"width": 1024, "height": 768},
            )
            context.set_default_timeout(options.timeout * 1000)
            context.set_default_navigation_timeout(options.timeout * 1000)
            yield context
        finally:
            await browser.close()


def is_sorry(url: str) -> bool:
    """Whether ``url`` is Google's rate-limiting page."""
    return "/sorry/" in urlsplit(url).path + "/"


def raise_if_sorry(url: str) -> None:
    """Stop the run with a sentence when Google is rate-limiting this client."""
    if is_sorry(url):
        raise RateLimited(
            "Google is rate-limiting this computer (it answered with its /sorry/ page), so the search "
            "stopped. Wait before searching again, and make the searches gentler: a longer "
            "[plugins.google_maps] pause, fewer pages, or a proxy."
        )


async def pass_consent(page: Page) -> bool:
    """Answer a consent wall if the page shows one (rejecting optional cookies); True if it did."""
    # Google sends first visits to consent.google.* (a redirect), so the URL tells; this
    # avoids asking the page on every load.
    parts = urlsplit(page.url)
    if not (parts.hostname or "").startswith("consent.") and "consent" not in parts.path:
        return False
    form = page.locator(first_match(CONSENT_FORM)).first
    for selector in CONSENT_BUTTON:
        button = form.locator(selector).first
        if await button.count():
            async with page.expect_navigation(wait_until="domcontentloaded"):
                await button.click()
            log.info("consent_answered")
            return True
    raise DiscoveryError(
        "Google showed a consent page that outreach could not answer; open Google Maps once in a "
        "browser from this network, or configure a proxy in another region."
    )
