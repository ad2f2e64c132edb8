"""Finding a Chromium on each platform, and saying before any Maps search that none is there."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from outreach.plugins.google_maps import chromium
from outreach.web.app import create_app


def test_each_platform_looks_where_its_browsers_install(monkeypatch, tmp_path: Path) -> None:
    assert "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome" in chromium.system_chromiums(
        "darwin"
    )
    monkeypatch.setenv("PROGRAMFILES", r"C:\Program Files")
    monkeypatch.setenv("LOCALAPPDATA", r"C:\Users\ann\AppData\Local")
    windows = chromium.system_chromiums("win32")
    assert any(p.endswith("chrome.exe") and "Program Files" in p for p in windows)
    assert any(p.endswith("msedge.exe") for p in windows)
    assert "/usr/bin/chromium" in chromium.system_chromiums("linux")
    assert "Google Chrome" in chromium.install_hint("win32")
    assert "brew install --cask chromium" in chromium.install_hint("darwin")
    assert "apt-get install chromium" in chromium.install_hint("linux")


@pytest.fixture
def no_browser(monkeypatch, tmp_path: Path) -> Path:
    """A machine with no Chromium anywhere outreach looks."""
    monkeypatch.delenv(chromium.CHROMIUM_ENV, raising=False)
    monkeypatch.setattr(chromium, "system_chromiums", lambda platform=None: (str(tmp_path / "none"),))
    browsers = tmp_path / "ms-playwright"
    browsers.mkdir()
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(browsers))
    return browsers


def test_no_chromium_anywhere_is_a_sentence_with_the_fix(
    no_browser: Path, tmp_path: Path, monkeypatch
) -> None:
    problem = chromium.chromium_problem(None)
    assert problem.startswith("No Chromium was found.")
    assert "OUTREACH_CHROMIUM" in problem
    (no_browser / "chromium-1200").mkdir()  # what `playwright install chromium` leaves
    assert chromium.chromium_problem(None) is None
    binary = tmp_path / "chrome"
    binary.write_bytes(b"")
    assert chromium.chromium_problem(str(binary)) is None
    monkeypatch.setenv(chromium.CHROMIUM_ENV, str(tmp_path / "moved-away"))
    assert "No Chromium at" in chromium.chromium_problem(None)


async def test_the_discover_page_says_so_before_a_search(
    no_browser: Path, make_settings, make_runtime
) -> None:
    rt = await make_runtime(make_settings())
    async with AsyncTestClient(app=create_app(rt)) as client:
        page = await client.get("/discover")
    assert page.status_code == 200
    assert 'class="flash flash-error discover-problem" data-source="google_maps"' in page.text
    assert "No Chromium was found." in page.text
