"""Discovery that falls back to other sources, and leads that record every source that found them."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from click.testing import CliRunner
from litestar.testing import AsyncTestClient
from maps_fixture import MapsFixture

from outreach.kernel import DiscoveredBusiness, DiscoveryQuery, hookimpl
from outreach.kernel.errors import DiscoveryError, PluginError
from outreach.kernel.runtime import Runtime
from outreach.kernel.same_business import distance_metres, name_key, same_business, same_phone
from outreach.kernel.services.discovery import JOB_KIND, is_connection_failure, submit_discovery
from outreach.kernel.store.tables import LeadRow
from outreach.web import create_app
from outreach.web.cli import cli

SORRY = "Google is rate-limiting this computer (it answered with its /sorry/ page), so the search stopped."
HX = {"HX-Request": "true"}


def business(name: str, n: int = 0, **fields: Any) -> DiscoveredBusiness:
    """A business at its own spot (about 1 km apart per ``n``) unless told otherwise."""
    fields.setdefault("latitude", 30.0 + n * 0.01)
    fields.setdefault("longitude", -97.0)
    return DiscoveredBusiness(business_name=name, **fields)


class Listed:
    """A source that yields the businesses it was given, up to the query's maximum."""

    def __init__(self, name: str, businesses: list[DiscoveredBusiness], *, obey_max: bool = True) -> None:
        self.name, self.label = name, name.capitalize()
        self.businesses = businesses
        self.obey_max = obey_max
        self.queries: list[DiscoveryQuery] = []

    async def discover(self, query: DiscoveryQuery, progress: Any) -> AsyncIterator[DiscoveredBusiness]:
        self.queries.append(query)
        limit = query.max_results if self.obey_max else None
        for found in self.businesses[:limit]:
            progress.count("found")
            yield found


class Failing(Listed):
    """A source that yields a few businesses, then raises ``error`` (Google's /sorry/ by default)."""

    def __init__(self, name: str, error: BaseException | None = None, before: int = 0) -> None:
        super().__init__(name, [business(f"{name} early {i}", 100 + i) for i in range(before)])
        self.error = error or DiscoveryError(SORRY)

    async def discover(self, query: DiscoveryQuery, progress: Any) -> AsyncIterator[DiscoveredBusiness]:
        async for found in super().discover(query, progress):
            yield found
        raise self.error


class Sources:
    """A throwaway plugin registering the discovery sources it is given."""

    def __init__(self, *sources: Any) -> None:
        self.sources = sources

    @hookimpl
    def register_discovery_sources(self, register) -> None:
        for source in self.sources:
            register(source)


@pytest.fixture
def open_with(make_settings, make_runtime):
    async def open_(*sources: Any, **raw: Any) -> Runtime:
        settings = make_settings(**raw)
        return await make_runtime(
            settings, load_entry_points=False, extra_plugins=[("sources", Sources(*sources))]
        )

    return open_


async def run(
    rt: Runtime, source: str, fallback: list[str], max_results: int | None = None, text: str = "dentists"
):
    query = DiscoveryQuery(query=text, max_results=max_results)
    job = await submit_discovery(rt, source, query, actor="test", fallback=fallback)
    return await rt.runner.run_now(job.id)


def messages(job) -> list[str]:
    return [entry["message"] for entry in job.report]


# -- falling back --------------------------------------------------------------------------------


async def test_a_blocked_source_falls_back_to_the_next_for_the_results_still_missing(open_with) -> None:
    blocked = Failing("blocked", before=1)
    empty = Failing("empty", DiscoveryError("The daily quota is used up."))
    found = Listed("found", [business(f"Dentist {i}", i) for i in range(10)])
    rt = await open_with(blocked, empty, found)
    job = await run(rt, "blocked", ["empty", "found"], max_results=4)

    assert job.state == "succeeded", job.error
    assert messages(job) == [
        "Searching with blocked.",
        f"blocked failed: {SORRY} Continuing with empty.",
        "Searching with empty.",
        "empty failed: The daily quota is used up. Continuing with found.",
        "Searching with found.",
    ]
    failed = [entry for entry in job.report if entry.get("stage") == "failed"]
    assert [(entry["source"], entry["reason"]) for entry in failed] == [
        ("blocked", SORRY),
        ("empty", "The daily quota is used up."),
    ]
    # What the blocked source stored before it failed counts towards --max.
    assert empty.queries[0].max_results == 3
    assert found.queries[0].max_results == 3
    assert found.queries[0].query == "dentists"
    assert job.result["created"] == 4
    assert job.result["sources"] == {
        "blocked": {"found": 1, "error": SORRY},
        "empty": {"found": 0, "error": "The daily quota is used up."},
        "found": {"found": 3, "error": None},
    }
    leads = (await rt.leads.list()).items
    assert sorted(lead.business_name for lead in leads) == [
        "Dentist 0",
        "Dentist 1",
        "Dentist 2",
        "blocked early 0",
    ]
    assert {lead.discovery_source for lead in leads} == {"blocked", "found"}


async def test_max_results_holds_across_sources_even_for_a_source_that_ignores_it(open_with) -> None:
    blocked = Failing("blocked", before=2)
    greedy = Listed("greedy", [business(f"Shop {i}", i) for i in range(10)], obey_max=False)
    rt = await open_with(blocked, greedy)
    job = await run(rt, "blocked", ["greedy"], max_results=5)
    assert job.state == "succeeded", job.error
    assert job.result["sources"]["greedy"] == {"found": 3, "error": None}
    assert (await rt.leads.list()).total == 5


async def test_a_source_that_succeeds_leaves_the_fallback_alone(open_with) -> None:
    first = Listed("first", [business("Only One")])
    second = Listed("second", [business("Never")])
    rt = await open_with(first, second)
    job = await run(rt, "first", ["second"], max_results=10)
    assert job.state == "succeeded", job.error
    assert second.queries == []
    assert job.result == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "sources": {"first": {"found": 1, "error": None}},
    }
    assert messages(job) == ["Searching with first."]


async def test_when_every_source_fails_the_job_fails_naming_each_and_why(open_with) -> None:
    blocked = Failing("blocked", before=1)
    offline = Failing("offline", httpx.ConnectError("[Errno 111] Connection refused"))
    rt = await open_with(blocked, offline)
    job = await run(rt, "blocked", ["offline"])
    assert job.state == "failed"
    assert job.error.startswith("Every discovery source failed.")
    assert f"blocked: {SORRY}" in job.error
    assert (
        "offline: its server could not be reached (ConnectError: [Errno 111] Connection refused)" in job.error
    )
    assert "The 1 result(s) found before are kept." in job.error
    assert "offline failed: its server could not be reached" in messages(job)[-1]
    assert (await rt.leads.list()).total == 1


async def test_a_bug_in_a_source_is_not_taken_for_a_failure_to_fall_back_from(open_with) -> None:
    buggy = Failing("buggy", KeyError("oops"))
    spare = Listed("spare", [business("Spare")])
    rt = await open_with(buggy, spare)
    job = await run(rt, "buggy", ["spare"])
    assert job.state == "failed"
    assert "Unexpected error" in job.error
    assert spare.queries == []


async def test_one_source_without_fallback_fails_as_before(open_with) -> None:
    rt = await open_with(Failing("blocked"))
    job = await run(rt, "blocked", [])
    assert job.state == "failed"
    assert job.error == SORRY
    assert job.report == []  # no "Searching with" line for a lone source


async def test_a_job_queued_before_fallbacks_existed_still_runs(open_with) -> None:
    rt = await open_with(Listed("found", [business("Old Job Dental")]))
    params = {"source": "found", "query": msgspec.to_builtins(DiscoveryQuery(query="dentists"))}
    job = await rt.jobs.submit(JOB_KIND, params, actor="test")
    done = await rt.runner.run_now(job.id)
    assert done.state == "succeeded", done.error
    assert done.result == {"created": 1, "updated": 0, "unchanged": 0}


async def test_fallback_names_are_checked_when_the_job_is_submitted(open_with) -> None:
    rt = await open_with(Listed("first", []), Listed("second", []))
    query = DiscoveryQuery(query="dentists")
    with pytest.raises(PluginError, match=r"No discovery source named 'nope'.*available: .*first, .*second"):
        await submit_discovery(rt, "first", query, actor="test", fallback=["nope"])
    with pytest.raises(DiscoveryError, match="listed twice"):
        await submit_discovery(rt, "first", query, actor="test", fallback=["second", "second"])
    with pytest.raises(DiscoveryError, match="the source itself"):
        await submit_discovery(rt, "first", query, actor="test", fallback=["first"])
    assert await rt.jobs.list() == []
    job = await submit_discovery(rt, "first", query, actor="test", fallback=["second"])
    assert job.params["source"] == "first"
    assert job.params["fallback"] == ["second"]


def test_connection_failures_are_told_from_bugs() -> None:
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    assert is_connection_failure(httpx.ConnectError("refused"))
    assert is_connection_failure(httpx.ReadTimeout("slow"))
    assert is_connection_failure(ConnectionRefusedError())
    assert is_connection_failure(PlaywrightError("page.goto: net::ERR_CONNECTION_REFUSED at http://x/"))
    assert is_connection_failure(PlaywrightTimeout("Timeout 30000ms exceeded."))
    assert not is_connection_failure(PlaywrightError("Element is not attached to the DOM"))
    assert not is_connection_failure(httpx.UnsupportedProtocol("ftp://"))
    assert not is_connection_failure(KeyError("x"))
    assert not is_connection_failure(FileNotFoundError("x"))


# -- the real Google Maps source, blocked ------------------------------------------------------------


@pytest.mark.browser
async def test_google_maps_blocked_by_sorry_falls_back_to_another_source(make_settings, make_runtime) -> None:
    spare = Listed("spare", [business(f"Spare {i}", i) for i in range(5)])
    with MapsFixture() as maps:
        options = {
            "base_url": maps.url,
            "pause": [0, 0],
            "timeout": 2,
            "scroll_wait": 0.4,
            "idle_scrolls": 2,
            "nominatim_url": "",
        }
        settings = make_settings(plugins={"google_maps": options})
        rt = await make_runtime(
            settings, load_entry_points=False, extra_plugins=[("sources", Sources(spare))]
        )
        query = DiscoveryQuery(query="sorry", location="30.2672,-97.7431", max_results=3)
        job = await submit_discovery(rt, "google_maps", query, actor="test", fallback=["spare"])
        job = await rt.runner.run_now(job.id)
        assert maps.hits["sorry"] >= 1
    assert job.state == "succeeded", job.error
    lines = messages(job)
    assert lines[0] == "Searching with google_maps."
    assert lines[1].startswith("google_maps failed: Google is rate-limiting this computer")
    assert lines[1].endswith("Continuing with spare.")
    assert lines[2] == "Searching with spare."
    assert job.result["sources"]["google_maps"]["found"] == 0
    assert "/sorry/" in job.result["sources"]["google_maps"]["error"]
    assert job.result["sources"]["spare"] == {"found": 3, "error": None}
    leads = (await rt.leads.list()).items
    assert sorted(lead.business_name for lead in leads) == ["Spare 0", "Spare 1", "Spare 2"]
    assert {lead.discovery_source for lead in leads} == {"spare"}


# -- the command line --------------------------------------------------------------------------------


@pytest.fixture
def cli_sources(monkeypatch):
    """Make every runtime the CLI opens carry the test's sources."""
    blocked, found = Failing("blocked"), Listed("found", [business(f"Cli Dental {i}", i) for i in range(4)])
    opened = Runtime.open.__func__

    async def open_(cls, settings, **kwargs):
        kwargs["extra_plugins"] = [("sources", Sources(blocked, found))]
        kwargs["load_entry_points"] = False
        return await opened(cls, settings, **kwargs)

    monkeypatch.setattr(Runtime, "open", classmethod(open_))
    return blocked, found


def test_the_cli_falls_back_with_a_comma_separated_list(cli_sources, tmp_path) -> None:
    _, found = cli_sources
    data = ["--data-dir", str(tmp_path / "data")]
    args = ["discover", "dentists", "--source", "blocked", "--fallback", " found ,", "--max", "3", "--json"]
    result = CliRunner().invoke(cli, [*data, *args])
    assert result.exit_code == 0, result.output
    job = json.loads(result.stdout)
    assert job["params"]["fallback"] == ["found"]
    assert job["result"]["created"] == 3
    assert job["result"]["sources"]["blocked"]["error"] == SORRY
    assert f"blocked failed: {SORRY} Continuing with found." in [r["message"] for r in job["report"]]
    assert found.queries[0].max_results == 3

    text = CliRunner().invoke(
        cli, [*data, "discover", "dentists", "--source", "blocked", "--fallback", "found"]
    )
    assert text.exit_code == 0, text.output
    assert "3 unchanged" in text.stdout
    assert f"blocked failed: {SORRY} Continuing with found." in text.stderr


def test_the_cli_refuses_an_unknown_fallback_listing_the_sources(cli_sources, tmp_path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    result = CliRunner().invoke(
        cli, [*data, "discover", "dentists", "--source", "blocked", "--fallback", "found,nope"]
    )
    assert result.exit_code == 2
    assert "Invalid value for '--fallback'" in result.stderr
    assert "No discovery source named 'nope'" in result.stderr
    assert re.search(r"available: .*blocked.*found", result.stderr)
    assert "Traceback" not in result.output
    same = CliRunner().invoke(
        cli, [*data, "discover", "dentists", "--source", "found", "--fallback", "found"]
    )
    assert same.exit_code == 2
    assert "the source itself" in same.stderr


# -- the Discover page -------------------------------------------------------------------------------


def _token(html: str) -> str:
    match = re.search(r'"x-csrftoken": "([^"]+)"', html)
    assert match
    return match.group(1)


async def test_the_discover_page_offers_fallbacks_and_shows_which_source_ran(open_with) -> None:
    found = Listed("found", [business(f"Web Dental {i}", i) for i in range(3)])
    rt = await open_with(Failing("blocked"), found)
    async with AsyncTestClient(app=create_app(rt)) as client:
        page = await client.get("/discover")
        assert '<input type="checkbox" name="fallback" value="found">' in page.text
        headers = {**HX, "x-csrftoken": _token(page.text)}

        form = {"query": "dentists", "source": "blocked", "fallback": ["found"], "max": "2"}
        queued = await client.post("/discover", data=form, headers=headers)
        assert queued.status_code == 200, queued.text
        job_id = int(re.search(r'data-job="(\d+)"', queued.text).group(1))
        assert (await rt.jobs.get(job_id)).params["fallback"] == ["found"]

        await rt.runner.run_now(job_id)
        done = await client.get(f"/discover/{job_id}", headers=HX)
        assert 'data-state="succeeded"' in done.text
        assert '<dd data-counter="created">2</dd>' in done.text
        assert (
            '<li data-source="blocked" data-stage="failed">blocked failed: Google is rate-limiting'
            in done.text
        )
        assert "Continuing with found." in done.text
        assert '<li data-source="found" data-stage="started">Searching with found.</li>' in done.text
        shown = await client.get(f"/discover/{job_id}")
        assert 'name="fallback" value="found" checked' in shown.text

        for fallback, expected in (
            (["nope"], "No discovery source named &#39;nope&#39;"),
            (["blocked"], "the source itself"),
            (["found", "found"], "listed twice"),
        ):
            refused = await client.post("/discover", data={**form, "fallback": fallback}, headers=headers)
            assert refused.status_code == 400, refused.text
            assert refused.headers["hx-retarget"] == "#flash"
            assert expected in refused.text
            assert "Traceback" not in refused.text
    assert len(await rt.jobs.list()) == 1


# -- every source recorded, one lead per place -------------------------------------------------------


async def test_a_place_found_by_two_sources_is_one_lead_listing_both(open_with) -> None:
    google = Listed(
        "google",
        [
            business(
                "Café Müller",
                place_id="ChIJmuller",
                website_url="https://www.cafe-muller.example/menu",
                phone="+1 512-555-0100",
                latitude=30.26720,
                longitude=-97.74310,
            ),
            business("Joe's Pizza", place_id="ChIJjoes1", latitude=30.2672, longitude=-97.7431),
        ],
    )
    osm = Listed(
        "osm",
        [
            # Another id, the same site (without www.), no phone: the same place.
            business("CAFE MULLER", place_id="osm:node/1", website_url="http://cafe-muller.example"),
            # Same name 20 m away: the same place.
            business(
                "JOE'S PIZZA",
                place_id="osm:node/2",
                latitude=30.26738,
                longitude=-97.7431,
                website_url="https://joes.example",
                metadata={"osm_id": "node/2"},
            ),
            # Same name 5 km away: another place.
            business("Joe's Pizza", place_id="osm:node/3", latitude=30.3122, longitude=-97.7431),
        ],
    )
    rt = await open_with(google, osm)
    assert (await run(rt, "google", [])).state == "succeeded"
    job = await run(rt, "osm", [])
    assert job.state == "succeeded", job.error
    assert job.result["created"] == 1
    assert job.result["updated"] == 2

    leads = {(lead.business_name, lead.place_id): lead for lead in (await rt.leads.list()).items}
    assert len(leads) == 3
    cafe = leads[("Café Müller", "ChIJmuller")]
    assert cafe.discovery_source == "google"  # the first source stays
    assert cafe.discovery_metadata["sources"] == ["google", "osm"]
    assert cafe.phone == "+1 512-555-0100"
    # The first source's values stay; the other only fills what was missing.
    assert cafe.website_url == "https://www.cafe-muller.example/menu"
    joes = leads[("Joe's Pizza", "ChIJjoes1")]
    assert joes.discovery_metadata["sources"] == ["google", "osm"]
    assert joes.discovery_metadata["osm_id"] == "node/2"
    assert joes.website_url == "https://joes.example"
    assert (joes.latitude, joes.longitude) == (30.2672, -97.7431)
    far = leads[("Joe's Pizza", "osm:node/3")]
    assert far.discovery_source == "osm"
    assert far.discovery_metadata["sources"] == ["osm"]

    # Found again by both: nothing new, no source listed twice.
    again = await run(rt, "google", [])
    assert again.result["created"] == 0
    assert (await rt.leads.get(cafe.id)).discovery_metadata["sources"] == ["google", "osm"]
    assert (await rt.leads.list()).total == 3


async def test_the_same_phone_or_another_id_of_the_same_kind_decide(open_with) -> None:
    first = Listed(
        "first",
        [
            business("Corner Bakery", 0, phone="+49 30 1234567", location="Torstraße 1, Berlin"),
            business("Chain Store", place_id="ChIJchain1", latitude=30.0, longitude=-97.0),
        ],
    )
    second = Listed(
        "second",
        [
            # Another city's coordinates, but the same phone written nationally: the same place.
            business("Corner Bakery", 50, phone="030 1234567", location="Torstr. 1"),
            # Google told these two apart already: two shops, though 10 m apart.
            business("Chain Store", place_id="ChIJchain2", latitude=30.00009, longitude=-97.0),
        ],
    )
    rt = await open_with(first, second)
    await run(rt, "first", [])
    job = await run(rt, "second", [])
    assert job.result["created"] == 1
    assert job.result["updated"] == 1
    names = sorted(lead.business_name for lead in (await rt.leads.list()).items)
    assert names == ["Chain Store", "Chain Store", "Corner Bakery"]


async def test_a_lead_stored_before_sources_were_listed_gains_the_list(open_with) -> None:
    rt = await open_with(
        Listed("first", [business("Legacy Dental")]), Listed("second", [business("Legacy Dental")])
    )
    await run(rt, "first", [])
    (lead,) = (await rt.leads.list()).items
    await LeadRow.update({LeadRow.discovery_metadata: {}}).where(LeadRow.id == lead.id)
    await run(rt, "second", [])
    updated = await rt.leads.get(lead.id)
    assert updated.discovery_source == "first"
    assert updated.discovery_metadata["sources"] == ["first", "second"]


async def test_candidates_are_looked_up_by_the_stored_normalized_name(open_with) -> None:
    rt = await open_with(Listed("first", [business("Dr. Ämy's  Dental!")]))
    await run(rt, "first", [])
    (row,) = await LeadRow.select(LeadRow.name_key)
    assert row["name_key"] == "dr amy s dental"
    plan = await LeadRow.raw("EXPLAIN QUERY PLAN SELECT id FROM leads WHERE name_key = {}", "x")
    assert "leads_name_key" in str(plan)


# -- the matching rule itself ------------------------------------------------------------------------


def test_same_business_rule() -> None:
    base = business("Acme Dental", website_url="https://www.acme.example/", latitude=40.0, longitude=-3.0)
    assert same_business(
        base, business("ACME  dental", website_url="acme.example", latitude=0.0, longitude=0.0)
    )
    assert same_business(base, business("Acme Dental", latitude=40.0006, longitude=-3.0))  # ~67 m
    assert not same_business(base, business("Acme Dental", latitude=40.0008, longitude=-3.0))  # ~89 m
    assert not same_business(base, business("Acme Dentistry", website_url="https://acme.example"))
    assert not same_business(base, business("Acme Dental", latitude=None, longitude=None))
    assert same_business(
        business("Acme Dental", 0, phone="(512) 555-0100"), business("Acme Dental", 9, phone="+15125550100")
    )
    assert not same_business(
        business("Acme Dental", 0, phone="555-0100"), business("Acme Dental", 9, phone="+15125550100")
    )
    google = business("Acme Dental", place_id="ChIJa", website_url="acme.example")
    assert same_business(google, business("Acme Dental", place_id="osm:way/7", website_url="acme.example"))
    assert not same_business(google, business("Acme Dental", place_id="ChIJb", website_url="acme.example"))
    assert not same_business(business("!!!"), business("???"))  # no name to compare


def test_matching_helpers() -> None:
    assert name_key("  Café  Müller & Söhne ") == "cafe muller sohne"
    assert same_phone("+49 30 1234567", "030 1234567")
    assert same_phone("+44 20 7946 0958", "0044 20 7946 0958")
    assert not same_phone("+1 512 555 0100", "+1 512 555 0199")
    assert not same_phone(None, "+1 512 555 0100")
    assert distance_metres(30.0, -97.0, 30.0, -97.0) == 0
    assert 1105 < distance_metres(30.0, -97.0, 30.01, -97.0) < 1115
