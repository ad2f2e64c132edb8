"""From an empty data directory to a first lawful email, in real Chromium and nothing else.

A person imports a CSV, analyzes it (the website and email_check enrichers against
sites and a DNS server on loopback), reviews with the keyboard, makes leads ready,
writes a sequence, fills in the settings for an SMTP server on loopback (aiosmtpd),
enrolls, and the first emails arrive at that server with their compliance headers.
Every step happens in the browser; screenshots of each land in ``test-artifacts/``.
"""

from __future__ import annotations

import asyncio
import socket
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from local_dns import DnsServer
from local_sites import SiteServer, html
from mail_servers import Sink, SinkHandler
from playwright.async_api import Page, async_playwright, expect
from support.chromium import CHROMIUM_ARGS, chromium_path

from outreach.kernel.config import load_settings
from outreach.kernel.runtime import Runtime
from outreach.web import create_app

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

CSV = textwrap.dedent(
    """\
    name,category,address,city,website,email
    Rise Bakery,Bakery,1 Oak St,"Austin, TX",http://risebakery.com/,
    Flour Power,Bakery,2 Oak St,"Austin, TX",http://flourpower.com/,hi@flourpower.com
    Gentle Care Dental,Dentist,12 Elm St,"Dallas, TX",,
    """
)


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"first-email-{name}.png"), full_page=True)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """The outside world on loopback: two small business sites, their DNS, an SMTP server."""
    sites = SiteServer()
    sites.add(
        "risebakery.com",
        {
            "/": html(
                '<h1>Rise</h1><a href="mailto:hello@risebakery.com">Write to us</a>',
                "Rise Bakery, fresh every morning",
            )
        },
    )
    sites.add("flourpower.com", {"/": html("<p>Flour Power bakes bread.</p>", "Flour Power")})
    dns = DnsServer({name: {"MX": [(10, f"mx.{name}")]} for name in ("risebakery.com", "flourpower.com")})
    handler = SinkHandler()
    sink = Sink(handler)
    await sites.start()
    await dns.start()
    await sink.start()
    yield {"sites": sites, "dns": dns, "handler": handler, "smtp_port": sink.port}
    await sink.stop()
    dns.close()
    await sites.close()


@pytest.fixture
async def served(tmp_path: Path, world: dict[str, Any]) -> AsyncIterator[tuple[str, Runtime, Path]]:
    """``outreach serve`` in this process on an empty data directory.

    The config file holds only what points the enrichers at loopback (nothing a person
    would set for sending); the browser writes everything else into it.
    """
    config = tmp_path / "outreach.toml"
    config.write_text(
        "# Test world: the enrichers look at loopback, never the internet.\n"
        "[plugins.website]\n"
        f'proxy = "{world["sites"].proxy}"\nhost_delay = 0\ntimeout = 2\n\n'
        "[plugins.email_check]\n"
        f'nameserver = "127.0.0.1"\nport = {world["dns"].port}\ntimeout = 1\n'
    )
    data = tmp_path / "data"
    rt = await Runtime.open(load_settings(config, data_dir=data), load_entry_points=False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    rt.listening = f"127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config(create_app(rt, run_background=True), log_config=None, access_log=False, lifespan="on")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}", rt, config
    server.should_exit = True
    await task


def lead_row(page: Page, name: str) -> Any:
    return page.locator("#results tr.lead-row", has_text=name)


async def test_from_an_empty_database_to_a_first_email_in_the_browser(
    served: tuple[str, Runtime, Path], world: dict[str, Any], tmp_path: Path
) -> None:
    base, _rt, config = served
    handler: SinkHandler = world["handler"]
    csv_file = tmp_path / "businesses.csv"
    csv_file.write_text(CSV)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = await browser.new_page(base_url=base, viewport={"width": 1366, "height": 900})
        try:
            # 1. An empty dashboard leads on.
            await page.goto("/")
            checklist = page.locator("#getting-started")
            await expect(checklist.locator('[data-step="leads"]')).to_have_attribute("data-done", "false")
            await shot(page, "01-empty-dashboard")
            await checklist.locator('[data-step="leads"] a').click()
            await expect(page).to_have_url(f"{base}/discover")

            # 2. Import a CSV from the Leads page's empty state.
            await page.goto("/leads")
            await expect(page.locator("#next-steps")).to_contain_text("No leads yet.")
            await shot(page, "02-empty-leads")
            await page.locator("#next-steps [data-open-import]").click()
            await page.set_input_files("#import-form input[type=file]", str(csv_file))
            await page.click("#import-form button[type=submit]")
            await expect(page.locator("#import-status .job")).to_have_attribute(
                "data-job-state", "succeeded", timeout=20_000
            )
            await expect(lead_row(page, "Rise Bakery")).to_contain_text("Not analyzed yet")

            # A review key on an unanalyzed lead says why instead of doing nothing.
            await page.locator("h1").click()
            await page.keyboard.press("j")
            await page.keyboard.press("a")
            await expect(page.locator("#flash")).to_contain_text(
                "Cannot approve Rise Bakery: it is not analyzed yet"
            )
            await expect(lead_row(page, "Rise Bakery")).to_have_attribute("data-state", "discovered")
            await shot(page, "03-imported-key-refused")

            # 3. Analyze: the websites are read, the addresses checked.
            await page.locator('#next-steps [data-step="analyze"] button').click()
            await expect(page.locator("#analysis")).to_contain_text("2 ready for review", timeout=30_000)
            await expect(lead_row(page, "Rise Bakery")).to_have_attribute("data-state", "pending_review")
            await expect(lead_row(page, "Rise Bakery")).to_contain_text("hello@risebakery.com")
            await expect(lead_row(page, "Gentle Care Dental")).to_have_attribute("data-state", "failed")
            await shot(page, "04-analyzed")

            # 4. Review with the keyboard (k: up to the first lead, where the cursor stays put).
            await page.locator("h1").click()
            await page.keyboard.press("k")
            await page.keyboard.press("a")
            await expect(lead_row(page, "Rise Bakery")).to_have_attribute("data-state", "approved")
            await page.keyboard.press("a")
            await expect(lead_row(page, "Flour Power")).to_have_attribute("data-state", "approved")
            await shot(page, "05-reviewed")

            # 5. Make ready, in bulk.
            await page.click("#make-all-ready")
            await expect(page.locator("#bulk-summary")).to_contain_text("Made ready for outreach: 2 leads.")
            await expect(lead_row(page, "Rise Bakery")).to_have_attribute("data-state", "ready_for_outreach")
            await shot(page, "06-ready")

            # 6. Write a sequence (the example, as a new user would start).
            await page.goto("/sequences")
            await expect(page.locator("#ready-count")).to_contain_text("2 leads ready for outreach")
            await page.get_by_role("button", name="Load").click()
            await expect(page.locator(".flash-ok")).to_contain_text("Loaded sequence 'intro'")
            await shot(page, "07-sequence")

            # 7. The sender: an SMTP server on loopback, one mailbox; the legal settings not yet.
            await page.goto("/settings")
            await page.select_option("#field-sender\\.backend", "smtp")
            await page.fill("#field-sender\\.smtp\\.host", "127.0.0.1")
            await page.fill("#field-sender\\.smtp\\.port", str(world["smtp_port"]))
            await page.select_option("#field-sender\\.smtp\\.security", "none")
            mailbox = page.locator("#mailbox-rows tbody tr").first
            await mailbox.locator('input[name="mb-0-name"]').fill("main")
            await mailbox.locator('input[name="mb-0-from_address"]').fill("Ann Example <ann@example.com>")
            await mailbox.locator('input[name="mb-0-window"]').fill("00:00-24:00")
            await mailbox.locator('input[name="mb-0-weekdays_only"]').uncheck()
            await mailbox.locator('input[name="mb-0-min_gap_seconds"]').fill("0")
            await page.click("#settings-save")
            await expect(page.locator("#settings-saved")).to_contain_text("in effect now")
            await expect(page.locator("#sending-missing")).to_contain_text("sender_name is not set")
            await shot(page, "08-settings-sender")

            # 8. Enroll: the emails are held back, and the notice links to the fields still missing.
            await page.goto("/sequences")
            page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
            await page.get_by_role("button", name="Enroll all ready leads").click()
            await expect(page.locator("#enroll-result")).to_contain_text("Enrolled 2 lead(s)")
            held = page.locator("#held-back")
            await expect(held).to_contain_text("held back")
            await shot(page, "09-enrolled-held")
            outbox = await browser.new_page(base_url=base)
            await outbox.goto("/outbox")
            await expect(outbox.locator("body")).to_contain_text(
                "held back until the settings are complete", timeout=15_000
            )
            await shot(outbox, "09b-outbox-held")
            await outbox.close()
            assert handler.received == []
            await page.locator("#held-back a", has_text="sender_name").click()
            await expect(page).to_have_url(f"{base}/settings#field-compliance.sender_name")

            # 9. The legal settings, in the browser; saving releases the held emails.
            await page.fill("#field-compliance\\.sender_name", "Ann Example, Example Bakery Marketing")
            await page.fill("#field-compliance\\.physical_address", "1 Main St, Springfield, IL 62701")
            await page.fill("#field-web\\.public_url", "https://outreach.example.com")
            await page.click("#settings-save")
            await expect(page.locator("#settings-saved")).to_contain_text("in effect now")
            await expect(page.locator("#sending-ready")).to_be_visible()
            await shot(page, "10-settings-complete")

            for _ in range(300):
                if len(handler.received) >= 2:
                    break
                await asyncio.sleep(0.05)
            assert sorted(r.rcpt_tos[0] for r in handler.received) == [
                "hello@risebakery.com",
                "hi@flourpower.com",
            ]
            first = handler.received[0].message
            assert first["From"] == "Ann Example <ann@example.com>"
            assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            assert "https://outreach.example.com/u/" in first["List-Unsubscribe"]
            text = first.get_body(preferencelist=("plain",)).get_content()
            assert "1 Main St, Springfield, IL 62701" in text

            # 10. The journey is over: the checklist is gone.
            await page.goto("/")
            await expect(page.locator("#engagement [data-count=sent]")).to_have_text("2", timeout=10_000)
            assert await page.locator("#getting-started").count() == 0
            await shot(page, "11-dashboard-after")
        finally:
            await browser.close()
    saved = config.read_text()
    assert "# Test world: the enrichers look at loopback" in saved
    assert 'backend = "smtp"' in saved
    assert 'sender_name = "Ann Example, Example Bakery Marketing"' in saved
