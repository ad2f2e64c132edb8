"""End to end in real Chromium against a real ``outreach serve``: a person reviewing leads.

One server and one browser for the module. The server requires an access token, so
the browser logs in through the form first; setup steps that are not under test
(moving imported leads to review) go through the JSON API with the bearer token.
Screenshots of every page land in ``test-artifacts/``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from support.chromium import CHROMIUM_ARGS, chromium_path
from support.live_server import LiveServer

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TOKEN = "e2e-token-4d1c9f"
XSS_NAME = "<script>alert(1)</script>"
CSV = textwrap.dedent(
    """\
    name,category,address,city,phone,website,email
    Rise Bakery,Bakery,1 Oak St,Austin,512-555-0101,https://rise.example,hello@rise.example
    Flour Power Bakery,Bakery,2 Oak St,Austin,512-555-0102,https://flour.example,hi@flour.example
    Sweet Loaf Bakery,Bakery,3 Oak St,Austin,512-555-0103,https://loaf.example,
    Crumb & Co Bakery,Bakery,4 Oak St,Austin,512-555-0104,crumb.example,
    Smile Dental,Dentist,10 Elm St,Dallas,214-555-0110,https://smile.example,desk@smile.example
    Bright Teeth Dental,Dentist,11 Elm St,Dallas,214-555-0111,https://bright.example,
    Gentle Care Dental,Dentist,12 Elm St,Dallas,214-555-0112,,
    Acme Dental,Dentist,13 Elm St,Dallas,214-555-0113,https://acme.example,info@acme.example
    Pipe Pros,Plumber,20 Pine St,Houston,713-555-0120,https://pipe.example,
    Drain Kings,Plumber,21 Pine St,Houston,713-555-0121,https://drain.example,
    "{xss}",Cafe,30 Ash St,Austin,,javascript:alert(2),
    ,Nameless,40 Ash St,Austin,,,
    """
).format(xss=XSS_NAME)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("e2e")
    config = root / "outreach.toml"
    config.write_text('[web]\naccess_token = "env:OUTREACH_E2E_TOKEN"\n')
    live = LiveServer(root / "data", config, env={"OUTREACH_E2E_TOKEN": TOKEN}).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def api(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    ) as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def context(browser: Browser, server: LiveServer) -> Iterator[BrowserContext]:
    """A logged-in browser session (the login form is part of what is tested)."""
    ctx = browser.new_context(base_url=server.url, viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    page.goto("/leads")
    expect(page).to_have_url(f"{server.url}/login?next=%2Fleads")
    shot(page, "login")
    page.fill("input[name=token]", "wrong")
    page.click("button[type=submit]")
    expect(page.locator(".flash-error")).to_contain_text("not the access token")
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server.url}/leads")
    cookie = next(c for c in ctx.cookies() if c["name"] == "outreach_session")
    assert cookie["httpOnly"]
    assert TOKEN not in cookie["value"]
    page.close()
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def imported(context: BrowserContext, api: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Import the CSV through the Leads page, then move every lead on to review."""
    csv_file = tmp_path_factory.mktemp("csv") / "businesses.csv"
    csv_file.write_text(CSV)
    page = context.new_page()
    page.goto("/leads")
    page.click("details.import summary")
    page.set_input_files("#import-form input[type=file]", str(csv_file))
    page.click("#import-form button[type=submit]")
    job = page.locator("#import-status .job")
    expect(job).to_have_attribute("data-job-state", "succeeded", timeout=20_000)
    expect(job).to_contain_text("created 11")
    expect(job).to_contain_text("1 problem reported")
    # The finished job tells the table to reload itself: the new leads appear without a reload.
    expect(page.locator("#results")).to_contain_text("Rise Bakery")
    shot(page, "leads-imported")
    page.close()
    for state, source in (
        ("analyzing", "discovered"),
        ("analyzed", "analyzing"),
        ("pending_review", "analyzed"),
    ):
        moved = api.post("/api/v1/leads/bulk", json={"state": state, "filter": {"state": source}})
        assert moved.status_code == 200, moved.text
        assert len(moved.json()["changed"]) == 11


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def row(page: Page, name: str) -> Any:
    return page.locator("#results tr.lead-row", has_text=name)


def lead_by_name(api: httpx.Client, name: str) -> dict[str, Any]:
    (lead,) = [
        item
        for item in api.get("/api/v1/leads", params={"q": name}).json()["items"]
        if item["business_name"] == name
    ]
    return lead


def mark_window(page: Page) -> None:
    """Set a marker that a full page load would wipe out."""
    page.evaluate("window.__stillHere = 'yes'")


def assert_no_navigation(page: Page) -> None:
    assert page.evaluate("window.__stillHere") == "yes"


def test_clicks_approve_reject_and_undo_swap_only_their_row(context, imported, api) -> None:
    page = context.new_page()
    page.goto("/leads?category=Dentist")
    mark_window(page)
    others = {name: row(page, name).inner_html() for name in ("Gentle Care Dental", "Acme Dental")}

    row(page, "Smile Dental").locator("button.approve").click()
    expect(row(page, "Smile Dental")).to_have_attribute("data-state", "approved")
    row(page, "Bright Teeth Dental").locator("button.reject").click()
    expect(row(page, "Bright Teeth Dental")).to_have_attribute("data-state", "rejected")
    row(page, "Bright Teeth Dental").locator("button.undo").click()
    expect(row(page, "Bright Teeth Dental")).to_have_attribute("data-state", "pending_review")

    assert_no_navigation(page)
    assert {name: row(page, name).inner_html() for name in others} == others
    smile = lead_by_name(api, "Smile Dental")
    assert smile["lifecycle_state"] == "approved"
    trail = api.get(f"/api/v1/leads/{smile['id']}").json()["audit"]
    assert trail[-1]["action"] == "transition:pending_review->approved"
    assert trail[-1]["actor"] == "web"
    shot(page, "leads-review-clicks")
    page.close()


def test_keyboard_moves_approves_rejects_and_undoes(context, imported, api) -> None:
    page = context.new_page()
    page.goto("/leads?category=Plumber")
    mark_window(page)
    page.keyboard.press("j")
    expect(row(page, "Pipe Pros")).to_have_class("lead-row current")
    page.keyboard.press("a")  # approve, and the cursor moves to the next lead
    expect(row(page, "Pipe Pros")).to_have_attribute("data-state", "approved")
    expect(row(page, "Drain Kings")).to_have_class("lead-row current")
    page.keyboard.press("r")
    expect(row(page, "Drain Kings")).to_have_attribute("data-state", "rejected")
    page.keyboard.press("k")
    page.keyboard.press("u")
    expect(row(page, "Pipe Pros")).to_have_attribute("data-state", "pending_review")
    page.keyboard.press("x")
    expect(page.locator("#selection-count")).to_have_text("1 selected")

    page.keyboard.press("?")
    expect(page.locator("#kbd-help")).to_be_visible()
    shot(page, "leads-keyboard-help")
    page.keyboard.press("Escape")
    expect(page.locator("#kbd-help")).to_be_hidden()

    assert_no_navigation(page)
    assert lead_by_name(api, "Pipe Pros")["lifecycle_state"] == "pending_review"
    assert lead_by_name(api, "Drain Kings")["lifecycle_state"] == "rejected"
    page.close()


def test_bulk_approve_everything_matching_a_filter(context, imported, api) -> None:
    page = context.new_page()
    page.goto("/leads?category=Bakery&per_page=25")
    row(page, "Rise Bakery").locator("button.approve").click()
    expect(row(page, "Rise Bakery")).to_have_attribute("data-state", "approved")
    # Two per page: the four bakeries span two pages, so "all matching" is what reaches them all.
    page.goto("/leads?category=Bakery&per_page=2")
    mark_window(page)
    expect(page.locator("#result-count")).to_contain_text("4 leads")
    page.click("#select-matching")
    expect(page.locator("#selection-count")).to_have_text("all 4 matching selected")
    page.click("#bulk-form button[value=approve]")
    summary = page.locator("#bulk-summary")
    expect(summary).to_contain_text("Approved: 3 leads.")
    expect(summary).to_contain_text("Skipped 1")
    expect(summary).to_contain_text("cannot go from 'approved' to 'approved'")
    assert_no_navigation(page)
    shot(page, "leads-bulk-summary")

    states = {
        item["business_name"]: item["lifecycle_state"]
        for item in api.get("/api/v1/leads", params={"category": "Bakery"}).json()["items"]
    }
    assert set(states.values()) == {"approved"}
    assert len(states) == 4
    assert lead_by_name(api, "Acme Dental")["lifecycle_state"] == "pending_review"
    page.close()


def test_detail_panel_loads_in_place(context, imported, api) -> None:
    page = context.new_page()
    page.goto("/leads?category=Dentist")
    mark_window(page)
    url = page.url
    row(page, "Acme Dental").locator("a.open-detail").click()
    panel = page.locator("#detail .lead-detail")
    expect(panel.locator("h2")).to_have_text("Acme Dental")
    expect(panel).to_contain_text("info@acme.example")
    expect(panel).to_contain_text("214-555-0113")
    expect(panel).to_contain_text("Not analyzed yet")
    expect(panel.locator("table.audit")).to_contain_text("source:csv")
    expect(panel.locator("table.audit")).to_contain_text("api")
    assert page.url == url
    assert_no_navigation(page)
    shot(page, "leads-detail-panel")
    page.keyboard.press("Escape")
    expect(page.locator("#detail")).to_be_empty()

    acme = lead_by_name(api, "Acme Dental")
    page.goto(f"/leads/{acme['id']}")
    expect(page.locator("main .lead-detail h2")).to_have_text("Acme Dental")
    page.close()


def test_dashboard_numbers_follow_the_review(context, imported, api) -> None:
    dashboard = context.new_page()
    dashboard.goto("/")
    approved = dashboard.locator('#lead-counts td[data-state="approved"]')
    before = int(approved.inner_text())
    funnel = dashboard.locator('.funnel .funnel-step[data-step="approved"]')
    assert int(funnel.get_attribute("data-value")) == before

    leads = context.new_page()
    leads.goto("/leads?category=Dentist")
    row(leads, "Gentle Care Dental").locator("button.approve").click()
    expect(row(leads, "Gentle Care Dental")).to_have_attribute("data-state", "approved")
    leads.close()

    # The dashboard refreshes its figures by itself.
    expect(approved).to_have_text(str(before + 1), timeout=8000)
    expect(funnel).to_have_attribute("data-value", str(before + 1))
    expect(dashboard.locator(".daily .day")).to_have_count(14)
    shot(dashboard, "dashboard")
    dashboard.close()


def test_a_script_in_a_lead_name_is_shown_as_text(context, imported) -> None:
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto("/leads?category=Cafe")
    xss = row(page, "alert(1)")
    expect(xss.locator("a.open-detail")).to_have_text(XSS_NAME)
    assert xss.locator("a.site").count() == 0  # a javascript: website is never a link
    expect(xss).to_contain_text("javascript:alert(2)")
    xss.locator("a.open-detail").click()
    expect(page.locator("#detail h2")).to_have_text(XSS_NAME)
    assert page.evaluate("document.querySelectorAll('script:not([src])').length") == 0
    shot(page, "leads-xss-as-text")
    page.close()
    assert dialogs == []


def test_other_pages_render_at_laptop_and_tablet_widths(context, imported, browser, server) -> None:
    page = context.new_page()
    page.goto("/settings")
    expect(page.locator("#web-settings")).to_contain_text("env:OUTREACH_E2E_TOKEN")
    expect(page.locator("#web-settings")).to_contain_text("set")
    expect(page.locator("#plugins")).to_contain_text("csv_import")
    assert TOKEN not in page.content()
    shot(page, "settings")
    page.goto("/jobs")
    expect(page.locator(".job").first).to_have_attribute("data-job-state", "succeeded")
    shot(page, "jobs")
    page.set_viewport_size({"width": 820, "height": 1180})
    page.goto("/leads")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(page, "leads-tablet")
    page.goto("/")
    shot(page, "dashboard-tablet")
    page.close()

    # A browser without the session cookie sees only the login form.
    stranger = browser.new_context(base_url=server.url)
    anonymous = stranger.new_page()
    anonymous.goto("/settings")
    expect(anonymous.locator("h1")).to_have_text("Log in")
    stranger.close()
