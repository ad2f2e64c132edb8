"""The google_places source end to end: discovery jobs against a local Places API (New) server."""

from __future__ import annotations

import pytest
from api_servers import (
    AUSTIN,
    PERMISSION_DENIED,
    QUOTA_EXCEEDED,
    Failure,
    PlacesServer,
    fixture_place,
    google_error,
)

from outreach.kernel import DiscoveryQuery
from outreach.kernel.errors import ConfigError
from outreach.kernel.services.discovery import submit_discovery
from outreach.plugins.google_maps.result import PlaceResult
from outreach.plugins.google_maps.result import to_business as maps_business
from outreach.plugins.google_places.client import FIELD_MASK
from outreach.plugins.google_places.mapping import to_business
from outreach.plugins.google_places.search import bias_radius

KEY_VARIABLE = "OUTREACH_TEST_PLACES_KEY"


@pytest.fixture
def places():
    with PlacesServer() as server:
        yield server


@pytest.fixture
def open_places(make_settings, make_runtime, monkeypatch):
    """A runtime whose google_places source asks ``server``; Nominatim off, so nothing leaves the machine."""
    monkeypatch.setenv(KEY_VARIABLE, "test-places-key")

    async def open_(server: PlacesServer | None, **options: object):
        table: dict[str, object] = {"api_key": f"env:{KEY_VARIABLE}"}
        if server is not None:
            table["base_url"] = server.url
        table.update(options)
        table = {k: v for k, v in table.items() if v is not None}
        settings = make_settings(plugins={"google_maps": {"nominatim_url": ""}, "google_places": table})
        return await make_runtime(settings, load_entry_points=False)

    return open_


async def search(rt, text: str = "dentists", near: str | None = "Austin, TX", max_results: int | None = None):
    query = DiscoveryQuery(query=text, location=near, max_results=max_results)
    job = await submit_discovery(rt, "google_places", query, actor="test")
    return await rt.runner.run_now(job.id)


async def leads(rt):
    return [await rt.leads.get(lead.id) for lead in (await rt.leads.list(None)).items]


# -- searching -------------------------------------------------------------------------------------


async def test_a_search_pages_through_every_result_and_stores_each_as_a_lead(places, open_places) -> None:
    rt = await open_places(places)
    job = await search(rt)
    assert job.state == "succeeded", job.error
    assert job.counters["created"] == 25
    assert job.counters["found"] == 25
    assert job.counters["pages"] == 2

    first, second = places.requests
    assert first.headers["x-goog-api-key"] == second.headers["x-goog-api-key"] == "test-places-key"
    mask = first.headers["x-goog-fieldmask"].split(",")
    for field in (
        "places.id",
        "places.displayName",
        "places.formattedAddress",
        "places.nationalPhoneNumber",
        "places.internationalPhoneNumber",
        "places.websiteUri",
        "places.rating",
        "places.userRatingCount",
        "places.location",
        "places.primaryTypeDisplayName",
        "places.types",
        "places.addressComponents",
        "nextPageToken",
    ):
        assert field in mask
    assert first.headers["content-type"] == "application/json"
    body, following = places.bodies
    assert body["textQuery"] == "dentists"
    assert body["pageSize"] == 20
    assert "pageToken" not in body
    circle = body["locationBias"]["circle"]
    assert abs(circle["center"]["latitude"] - AUSTIN[0]) < 0.01
    assert abs(circle["center"]["longitude"] - AUSTIN[1]) < 0.01
    assert 0 < circle["radius"] <= 50_000
    assert body["regionCode"] == "us"
    assert following["pageToken"] == "AeCrKXtok001"
    assert {k: v for k, v in following.items() if k != "pageToken"} == body

    stored = {lead.business_name: lead for lead in await leads(rt)}
    assert len(stored) == 25
    lead = stored["Fixture Dental 7"]
    assert lead.discovery_source == "google_places"
    assert lead.place_id == "ChIJFixtureDental0007xyz"
    assert lead.category == "Dentist"
    assert lead.categories == ["Dentist"]
    assert lead.location == "107 Congress Ave, Austin, TX 78701, USA"
    assert lead.city == "Austin"
    assert lead.country_code == "US"
    assert lead.phone == "+15125550007"
    assert lead.website_url == "https://fixture-dental-7.example/"
    assert lead.maps_url == "https://maps.google.com/?cid=1000007"
    assert lead.rating == 4.5
    assert lead.review_count == 17
    assert lead.latitude == pytest.approx(AUSTIN[0] + 0.007)
    assert lead.longitude == pytest.approx(AUSTIN[1])
    assert lead.discovery_confidence == 1.0
    assert lead.discovery_metadata["strategy"] == "places_api"
    assert lead.discovery_metadata["types"][0] == "dentist"
    assert lead.discovery_metadata["sources"] == ["google_places"]


async def test_the_maximum_stops_the_paging(places, open_places) -> None:
    rt = await open_places(places)
    job = await search(rt, max_results=5)
    assert job.state == "succeeded", job.error
    assert job.counters["created"] == 5
    assert len(places.requests) == 1
    assert places.bodies[0]["pageSize"] == 5


async def test_a_search_without_a_place_has_no_location_bias(places, open_places) -> None:
    rt = await open_places(places)
    job = await search(rt, text="dentists in Austin", near=None, max_results=3)
    assert job.state == "succeeded", job.error
    assert "locationBias" not in places.bodies[0]
    assert places.bodies[0]["textQuery"] == "dentists in Austin"


async def test_the_last_page_ends_the_search_and_nothing_found_is_no_error(open_places) -> None:
    with PlacesServer(places=[]) as empty:
        rt = await open_places(empty)
        job = await search(rt)
    assert job.state == "succeeded", job.error
    assert job.counters.get("created", 0) == 0
    assert len(empty.requests) == 1


async def test_searching_twice_creates_no_duplicates(places, open_places) -> None:
    rt = await open_places(places)
    await search(rt)
    again = await search(rt)
    assert again.state == "succeeded", again.error
    assert again.counters.get("created", 0) == 0
    assert again.counters["unchanged"] == 25
    assert (await rt.leads.list()).total == 25


async def test_a_place_found_on_google_maps_is_the_same_lead(places, open_places) -> None:
    rt = await open_places(places)
    # The google_maps source reads the place id from the place's URL (``!19s``): the Places API's ``id``.
    url = (
        "https://www.google.com/maps/place/Fixture+Dental+3/@30.27,-97.74,17z/data=!4m6!3m5"
        "!1s0x8644b5:0x1a2b!8m2!3d30.27!4d-97.74!16s%2Fg%2F11!19sChIJFixtureDental0003xyz"
    )
    found_on_maps = maps_business(PlaceResult(name="Fixture Dental Three", maps_url=url, strategies=["card"]))
    assert found_on_maps is not None
    assert found_on_maps.place_id == "ChIJFixtureDental0003xyz"
    maps_lead, _ = await rt.leads.upsert_discovered(found_on_maps, "google_maps")

    job = await search(rt, max_results=5)
    assert job.state == "succeeded", job.error
    assert job.counters["created"] == 4
    assert job.counters["updated"] == 1
    lead = await rt.leads.get(maps_lead.id)
    assert lead.discovery_source == "google_maps"
    assert lead.discovery_metadata["sources"] == ["google_maps", "google_places"]
    assert lead.website_url == "https://fixture-dental-3.example/"
    assert (await rt.leads.list()).total == 5


# -- errors ----------------------------------------------------------------------------------------


async def test_no_api_key_names_the_setting(open_places) -> None:
    rt = await open_places(None, api_key=None)
    job = await search(rt)
    assert job.state == "failed"
    assert "[plugins.google_places] api_key" in job.error
    assert "env:" in job.error


async def test_an_unset_key_variable_says_which(open_places, monkeypatch, places) -> None:
    rt = await open_places(places)
    monkeypatch.delenv(KEY_VARIABLE)
    job = await search(rt)
    assert job.state == "failed"
    assert KEY_VARIABLE in job.error
    assert places.requests == []


async def test_a_clear_text_key_is_refused_by_the_config(make_settings, make_runtime) -> None:
    settings = make_settings(plugins={"google_places": {"api_key": "AIzaSyFakeFakeFake"}})
    with pytest.raises(ConfigError, match="reference"):
        await make_runtime(settings, load_entry_points=False)


@pytest.mark.parametrize(
    ("failure", "said"),
    [
        (QUOTA_EXCEEDED, "The Google Places API quota is used up (HTTP 429 RESOURCE_EXHAUSTED"),
        (PERMISSION_DENIED, "Google refused the request with this API key (HTTP 403 PERMISSION_DENIED"),
        (
            Failure(400, google_error(400, "RESOURCE_EXHAUSTED", "Daily limit reached.")),
            "quota is used up",
        ),
        (Failure(503, google_error(503, "UNAVAILABLE", "The service is unavailable.")), "try again"),
        (Failure(502, "<html>Bad Gateway</html>"), "The Google Places API failed (HTTP 502)"),
    ],
)
async def test_error_answers_are_sentences(places, open_places, failure, said) -> None:
    rt = await open_places(places)
    places.fail_next.append(failure)
    job = await search(rt)
    assert job.state == "failed"
    assert said in job.error
    assert (await rt.leads.list()).total == 0


async def test_the_quota_sentence_says_what_to_do(places, open_places) -> None:
    rt = await open_places(places)
    places.fail_next.append(QUOTA_EXCEEDED)
    job = await search(rt)
    assert "Quotas" in job.error
    assert "SearchTextRequest" in job.error


async def test_a_quota_on_the_second_page_keeps_the_first(places, open_places) -> None:
    rt = await open_places(places)
    places.fail_at[2] = QUOTA_EXCEEDED
    job = await search(rt)
    assert job.state == "failed"
    assert "quota is used up" in job.error
    assert (await rt.leads.list()).total == 20


async def test_a_wrong_key_is_named(places, open_places, monkeypatch) -> None:
    rt = await open_places(places)
    monkeypatch.setenv(KEY_VARIABLE, "not-the-key")
    job = await search(rt)
    assert job.state == "failed"
    assert "Google refused the API key (HTTP 400 INVALID_ARGUMENT: API key not valid" in job.error
    assert "[plugins.google_places] api_key" in job.error
    assert "not-the-key" not in job.error


async def test_an_unreachable_server_is_named(open_places) -> None:
    rt = await open_places(None, base_url="http://127.0.0.1:9")
    job = await search(rt)
    assert job.state == "failed"
    assert "http://127.0.0.1:9 could not be reached (ConnectError)" in job.error


# -- mapping ---------------------------------------------------------------------------------------


def test_a_place_with_few_fields_maps_what_it_has() -> None:
    sparse = {
        "id": "ChIJsparse",
        "displayName": {"text": "Corner Bakery"},
        "nationalPhoneNumber": "020 7946 0018",
        "types": ["bakery", "food", "store", "point_of_interest"],
    }
    business = to_business(sparse, region="GB")
    assert business is not None
    assert business.business_name == "Corner Bakery"
    assert business.category == "Bakery"
    assert business.phone == "+442079460018"
    assert business.country_code == "GB"
    assert business.location is None
    assert business.rating is None
    assert business.latitude is None
    assert 0 < business.confidence < 0.5
    assert to_business({"id": "ChIJnameless"}) is None
    assert to_business({"displayName": {"text": "No id"}}) is None


def test_the_field_mask_holds_every_field_the_mapping_reads() -> None:
    read = set(fixture_place(1))
    assert {f.removeprefix("places.") for f in FIELD_MASK.split(",")} - {"nextPageToken"} == read


def test_the_bias_radius_follows_the_place_and_stays_within_the_api_limit() -> None:
    from outreach.kernel import GeoPlace

    town = GeoPlace(name="t", latitude=30.0, longitude=-97.0, radius_km=8.0)
    assert bias_radius(town, 10_000) == 8000.0
    point = GeoPlace(name="p", latitude=30.0, longitude=-97.0)
    assert bias_radius(point, 10_000) == 10_000.0
    huge = GeoPlace(name="h", latitude=30.0, longitude=-97.0, bbox=(25.0, -105.0, 36.0, -93.0))
    assert bias_radius(huge, 10_000) == 50_000.0
