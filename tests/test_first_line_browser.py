"""The first line in a lead's panel, in real Chromium against a real ``outreach serve``.

htmx posts the form (the CSRF header, the button that was pressed), swaps the lead's row
(which carries the new version) and the line's block out of band, without a page load.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from support.chromium import CHROMIUM_ARGS, chromium_path
from support.live_server import LiveServer

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CSV = "name,category,city,website,email\nRise Bakery,Bakery,Austin,https://rise.example,hello@rise.example\n"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server whose first_line plugin is on (its model is never asked: nothing is analyzed)."""
    config = tmp_path / "outreach.toml"
    config.write_text('[plugins.first_line]\nmodel = "outreach-test"\n')
    data = tmp_path / "data"
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text(CSV)
    env = {"LLM_USER_PATH": str(tmp_path / "llm")}
    cli = [sys.executable, "-m", "outreach.web.cli", "--data-dir", str(data), "--config", str(config)]
    subprocess.run(
        [*cli, "leads", "import", str(csv_file)], check=True, capture_output=True, env={**os.environ, **env}
    )
    live = LiveServer(data, config, env=env).start()
    yield live
    live.stop()


@pytest.fixture
def page(server: LiveServer) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=server.url, viewport={"width": 1366, "height": 900})
        yield context.new_page()
        browser.close()


def test_a_line_is_saved_and_cleared_in_the_panel_without_a_page_load(page: Page) -> None:
    page.goto("/leads")
    page.evaluate("window.__stillHere = 'yes'")
    row = page.locator("#results tr.lead-row", has_text="Rise Bakery")
    version = int(row.get_attribute("data-version") or 0)
    row.locator("a.open-detail").click()
    block = page.locator("#detail .first-line")
    expect(block).to_contain_text("Templates use the plain sentence: “I came across Rise Bakery")

    block.locator("input[name=first_line]").fill("Rise Bakery is the reason Austin mornings smell good.")
    block.locator("button[value=save]").click()
    expect(block).to_contain_text("written by a person")
    expect(block.locator("blockquote")).to_have_text("Rise Bakery is the reason Austin mornings smell good.")
    expect(row).to_have_attribute("data-version", str(version + 1))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "first-line-panel.png"), full_page=True)

    block.locator("button[value=clear]").click()
    expect(block).to_contain_text("cleared by a person")
    expect(block).to_contain_text("Templates use the plain sentence")
    expect(row).to_have_attribute("data-version", str(version + 2))
    assert page.evaluate("window.__stillHere") == "yes"
