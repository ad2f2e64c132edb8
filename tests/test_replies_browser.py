"""In real Chromium against a real ``outreach serve`` behind an access token: a recipient
unsubscribes from the link in an email without any token, and the person running outreach
then finds the reply in the inbox and the address on the suppression list."""

from __future__ import annotations

import asyncio
import email
import re
from collections.abc import Iterator
from email import policy
from pathlib import Path

import pytest
from engine_helpers import CONFIG, LEGAL_TOML, Clock, enrolled
from inbound_helpers import reply
from playwright.sync_api import Browser, expect, sync_playwright
from support.chromium import CHROMIUM_ARGS, chromium_path
from support.live_server import LiveServer
from test_browser import shot

from outreach.kernel import InboundMessage
from outreach.kernel.config import load_settings
from outreach.kernel.runtime import Runtime

pytestmark = pytest.mark.browser

TOKEN = "e2e-replies-token-77"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A config and data directory where one email went out and its recipient answered."""
    root = tmp_path_factory.mktemp("replies-e2e")
    config = root / "outreach.toml"
    config.write_text(
        CONFIG.format(data=root / "data")
        + LEGAL_TOML.replace("[web]", '[web]\naccess_token = "env:OUTREACH_E2E_TOKEN"')
    )

    async def main() -> None:
        rt = await Runtime.open(load_settings(config), load_entry_points=False)
        try:
            rt.clock = Clock()
            firsts = await enrolled(rt, 2)
            await rt.outbox.run_until_idle()
            answered = await rt.emails.get(firsts[min(firsts)])
            raw = reply(answered, "Yes, I'm interested. Send me your prices.")
            await rt.inbound.process(InboundMessage(raw=raw, source="imap:main"))
        finally:
            await rt.close()

    asyncio.run(main())
    unsubscribe = ""
    for path in (root / "data" / "outbox").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if message["To"] == "owner1@lead1.example":
            unsubscribe = re.match(
                r"<https://outreach\.example(/u/[^>]+)>", message["List-Unsubscribe"]
            ).group(1)
    assert unsubscribe
    return config, unsubscribe


@pytest.fixture(scope="module")
def server(prepared: tuple[Path, str]) -> Iterator[LiveServer]:
    config, _ = prepared
    live = LiveServer(config.parent / "data", config, env={"OUTREACH_E2E_TOKEN": TOKEN}).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def browser(server: LiveServer) -> Iterator[Browser]:
    # After the server: the data is prepared with asyncio.run, which Playwright's loop would forbid.
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def test_a_recipient_unsubscribes_and_the_person_sees_it(
    browser: Browser, server: LiveServer, prepared: tuple[Path, str]
) -> None:
    _, unsubscribe = prepared
    recipient = browser.new_context(base_url=server.url)
    page = recipient.new_page()
    page.goto(unsubscribe)  # no login, no cookie: as from a mail client
    expect(page.locator("h1")).to_have_text("Unsubscribe")
    expect(page.locator("#unsubscribe")).to_contain_text("o***1@lead1.example")
    page.click("#confirm-unsubscribe")
    expect(page.locator("h1")).to_have_text("You are unsubscribed")
    shot(page, "unsubscribed")
    page.goto("/suppressions")
    expect(page).to_have_url(re.compile(r"/login\?next="))  # the rest of the app stays closed
    recipient.close()

    person = browser.new_context(base_url=server.url)
    page = person.new_page()
    page.goto("/login?next=/replies")
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server.url}/replies")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    page.click('#reply-categories a[data-category="not_interested"]')
    expect(page.locator("#results")).to_contain_text("Nothing came back in this category yet.")
    page.click('#reply-categories a[data-category="interested"]')
    expect(page).to_have_url(f"{server.url}/replies?category=interested")
    page.click("#results tbody a")
    expect(page.locator("#thread")).to_contain_text("Send me your prices.")
    expect(page.locator("#thread")).to_contain_text("We wrote")
    shot(page, "reply-thread")
    page.goto("/suppressions")
    expect(page.locator("#results")).to_contain_text("owner1@lead1.example")
    expect(page.locator("#results")).to_contain_text("unsubscribe page")
    person.close()
