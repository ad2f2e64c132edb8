"""The google_maps source end to end: real Chromium against a local server that behaves like Maps."""

from __future__ import annotations

import socket

import pytest
from maps_fixture import MapsFixture

from outreach.kernel import DiscoveryQuery
from outreach.kernel.models import Job
from outreach.kernel.services.discovery import submit_discovery
from outreach.kernel.store.tables import LeadRow

pytestmark = pytest.mark.browser

AUSTIN = "30.2672,-97.7431"
AGENT = "Mozilla/5.0 (X11; Linux x86_64) FixtureBrowser/1.0"


@pytest.fixture(scope="module")
def maps():
    with MapsFixture() as server:
        yield server


def _options(server: MapsFixture, **extra: object) -> dict[str, object]:
    return {
        "base_url": server.url,
        "pause": [0, 0],
        "timeout": 2,
        "scroll_wait": 0.4,
        "idle_scrolls": 2,
        "nominatim_url": "",
        "user_agents": [AGENT],
        **extra,
    }


@pytest.fixture
def open_maps(make_settings, make_runtime):
    async def open_(server: MapsFixture, **extra: object):
        settings = make_settings(plugins={"google_maps": _options(server, **extra)})
        return await make_runtime(settings, load_entry_points=False)

    return open_


async def _search(rt, text: str, near: str | None = AUSTIN, max_results: int | None = None, **options) -> Job:
    query = DiscoveryQuery(query=text, location=near, max_results=max_results, options=options)
    job = await submit_discovery(rt, "google_maps", query, actor="test")
    return await rt.runner.run_now(job.id)


async def _leads(rt):
    return (await rt.leads.list()).items


async def test_a_search_reads_the_list_and_each_place_page(maps, open_maps) -> None:
    rt = await open_maps(maps)
    consent_before, agents_before = maps.hits["consent_shown"], len(maps.user_agents)
    job = await _search(rt, "dentists", max_results=12)
    assert job.state == "succeeded", job.error
    assert job.counters["found"] == 12
    assert job.counters["details"] == 12
    assert job.counters["created"] == 12
    assert job.progress_done == 12
    # One consent wall for the whole run: the cookie was kept for the place pages.
    assert maps.hits["consent_shown"] == consent_before + 1
    assert set(maps.user_agents[agents_before:]) == {AGENT}

    leads = await _leads(rt)
    assert len({lead.place_id for lead in leads}) == 12
    expected = {p.place_id: p for p in maps.places_for("dentists")}
    for lead in leads:
        place = expected[lead.place_id]
        assert lead.business_name == place.name
        assert lead.location == place.address  # the place page's full address, not the card's street
        assert lead.phone == place.phone_e164
        assert lead.website_url == place.website  # unwrapped from /url?q=
        assert lead.maps_url == place.google_url
        assert lead.rating == place.rating
        assert lead.review_count == place.reviews
        assert (lead.latitude, lead.longitude) == (place.latitude, place.longitude)
        assert lead.discovery_source == "google_maps"
        assert lead.lifecycle_state == "discovered"
        meta = lead.discovery_metadata
        assert meta["strategy"] == "place_dom+appinit+card"
        assert meta["data_id"] == place.data_id
        assert meta["plus_code"] == place.plus_code
        assert meta["hours"][-1] == "Sunday, Closed"
        assert meta["sponsored"] is place.sponsored
        assert lead.discovery_confidence >= 0.85
    # Phones are encrypted at rest, never in clear in the table or the metadata.
    for row in await LeadRow.select(LeadRow.phone, LeadRow.discovery_metadata):
        assert not row["phone"].startswith("+1")
        assert "555" not in str(row["discovery_metadata"])


async def test_the_feed_is_scrolled_to_its_end_and_a_strange_place_page_is_a_miss(maps, open_maps) -> None:
    rt = await open_maps(maps)
    job = await _search(rt, "bakeries", grid=1)
    assert job.state == "succeeded", job.error
    assert job.counters["found"] == 40  # every card, up to the end marker
    assert job.counters["misses"] == 1
    assert job.counters["details"] == 39
    assert any("matched none of the expected selectors" in r["message"] for r in job.report)
    broken = next(p for p in maps.places_for("bakeries") if p.broken)
    (lead,) = [lead for lead in await _leads(rt) if lead.business_name == broken.name]
    # The card's data is kept.
    assert lead.discovery_metadata["strategy"] == "card"
    assert lead.phone == broken.phone_e164  # the card's national number, read as a US number
    assert lead.rating == broken.rating
    assert lead.place_id == broken.place_id  # from the card's link
    assert lead.discovery_confidence < 0.85


async def test_a_grid_of_searches_is_deduplicated_and_a_rerun_creates_nothing(open_maps) -> None:
    with MapsFixture(per_search=12, consent=False) as small:
        rt = await open_maps(small, per_search=10, pages=2)
        job = await _search(rt, "plumbers", max_results=30)
        assert job.state == "succeeded", job.error
        assert small.hits["search"] >= 3  # a 2x2 grid, stopped once 30 were found
        assert len(small.cards_served) > len(set(small.cards_served))  # cells overlapped
        leads = await _leads(rt)
        assert len(leads) == job.counters["found"] == job.counters["created"] == 30
        assert len({lead.place_id for lead in leads}) == 30

        again = await _search(rt, "plumbers", max_results=30)
        assert again.state == "succeeded", again.error
        assert again.counters.get("created", 0) == 0
        assert again.counters.get("updated", 0) + again.counters.get("unchanged", 0) == 30
        assert len(await _leads(rt)) == 30


async def test_a_search_that_opens_one_place(maps, open_maps) -> None:
    rt = await open_maps(maps)
    job = await _search(rt, "Tipsy Sticks", near=None)
    assert job.state == "succeeded", job.error
    assert job.counters["found"] == 1
    assert job.counters["details"] == 1
    (lead,) = await _leads(rt)
    place = maps.places_for("tipsy sticks")[1]
    assert lead.business_name == place.name
    assert lead.place_id == place.place_id
    assert lead.phone == place.phone_e164


async def test_sorry_stops_the_search_and_the_next_one_waits(maps, open_maps) -> None:
    rt = await open_maps(maps)
    job = await _search(rt, "sorry")
    assert job.state == "failed"
    assert "Google is rate-limiting this computer" in job.error
    assert maps.hits["sorry"] >= 1
    searches = maps.hits["search"]
    later = await _search(rt, "dentists")
    assert later.state == "failed"
    assert "waits" in later.error
    assert maps.hits["search"] == searches  # Google was not asked again


async def test_a_results_page_with_none_of_the_selectors_is_a_counted_miss(maps, open_maps) -> None:
    rt = await open_maps(maps)
    job = await _search(rt, "nothing here")
    assert job.state == "succeeded", job.error
    assert job.counters["misses"] == 1
    assert "matched none of the expected layouts" in job.report[0]["message"]
    assert await _leads(rt) == []


async def test_the_tbm_map_fast_path(maps, open_maps) -> None:
    rt = await open_maps(maps, fast_path=True)
    places_before, tbm_before = maps.hits["place"], maps.hits["tbm"]
    job = await _search(rt, "coffee", max_results=25)
    assert job.state == "succeeded", job.error
    assert job.counters.get("created") == 25, (job.counters, job.report)
    assert maps.hits["tbm"] - tbm_before == 2  # two pages of 20
    assert maps.hits["place"] == places_before  # no place pages needed
    places = {p.place_id: p for p in maps.places_for("coffee")}
    for lead in await _leads(rt):
        place = places[lead.place_id]
        assert lead.discovery_metadata["strategy"] == "tbm_map"
        assert lead.business_name == place.name
        assert lead.phone == place.phone_e164
        assert lead.location == place.address
        assert lead.country_code == "US"


async def test_an_unreachable_base_url_and_a_missing_browser_are_sentences(open_maps, tmp_path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    class Nowhere:
        url = f"http://127.0.0.1:{port}"

    rt = await open_maps(Nowhere)
    job = await _search(rt, "dentists")
    assert job.state == "failed"
    assert f"Maps at http://127.0.0.1:{port} cannot be reached (ERR_CONNECTION_REFUSED)" in job.error

    missing = tmp_path / "no-chromium"
    rt = await open_maps(Nowhere, chromium=str(missing))
    job = await _search(rt, "dentists")
    assert job.state == "failed"
    assert f"No Chromium at {missing}" in job.error
    assert "apt-get install chromium" in job.error


# -- a search that lands on one place's page ---------------------------------------------


def _assert_is(lead, place) -> None:
    """``lead`` carries every field of ``place`` that a place page shows."""
    assert lead.business_name == place.name
    assert lead.category == place.category
    assert lead.location == place.address
    assert lead.phone == place.phone_e164
    assert lead.website_url == place.website
    assert lead.rating == place.rating
    assert lead.review_count == place.reviews
    assert (lead.latitude, lead.longitude) == (place.latitude, place.longitude)
    assert lead.place_id == place.place_id
    assert lead.discovery_metadata["data_id"] == place.data_id


async def test_a_search_landing_on_a_place_url_yields_that_place_and_not_its_related_places(
    maps, open_maps
) -> None:
    rt = await open_maps(maps)
    place = maps.places_for("tipsy sticks")[1]
    related = {p.name for p in maps.related_to("Tipsy Sticks")}
    assert len(related) >= 3
    served = len(maps.places_served)
    job = await _search(rt, "Tipsy Sticks", near=None)
    assert job.state == "succeeded", job.error
    assert job.counters["found"] == 1
    assert job.counters["details"] == 1
    (lead,) = await _leads(rt)
    _assert_is(lead, place)
    assert lead.discovery_metadata["strategy"] == "place_dom+appinit"
    assert lead.maps_url.startswith(f"{maps.url}/maps/place/")
    # Only the landing itself was served: no related place's page was opened.
    assert maps.places_served[served:] == [place.name]


async def test_a_search_landing_on_a_place_by_its_content_yields_that_place(maps, open_maps) -> None:
    rt = await open_maps(maps)
    place = maps.places_for("kipriakon")[1]
    served = len(maps.places_served)
    job = await _search(rt, "Kipriakon", near=None)
    assert job.state == "succeeded", job.error
    assert job.counters["found"] == 1
    (lead,) = await _leads(rt)
    # The URL is still the search's (the page, not the URL, said it is a place): ids and
    # coordinates come from the embedded record.
    _assert_is(lead, place)
    assert "/maps/search/Kipriakon" in lead.maps_url
    assert maps.places_served[served:] == [place.name]


async def test_every_cell_of_a_grid_landing_on_one_place_gives_one_lead(maps, open_maps) -> None:
    rt = await open_maps(maps)
    searches = maps.hits["search"]
    job = await _search(rt, "Tipsy Sticks", max_results=5, grid=2)
    assert job.state == "succeeded", job.error
    assert maps.hits["search"] - searches == 4  # each cell searched, each landed on the place
    assert job.counters["found"] == 1
    (lead,) = await _leads(rt)
    assert lead.place_id == maps.places_for("tipsy sticks")[1].place_id


async def test_a_results_list_with_related_carousels_yields_only_the_feed(open_maps) -> None:
    with MapsFixture(per_search=10, first=5, batch=3, consent=False) as small:
        rt = await open_maps(small)
        job = await _search(rt, "florists", grid=1)
        assert job.state == "succeeded", job.error
        listed = small.search("florists", *map(float, AUSTIN.split(",")))
        related = {p.name for p in small.related_to("florists")}
        assert len(listed) == 10
        assert len(related) == 3
        assert job.counters["found"] == 10
        leads = await _leads(rt)
        assert sorted(lead.business_name for lead in leads) == sorted(p.name for p in listed)
        assert not related & set(small.places_served)  # no related card was opened
