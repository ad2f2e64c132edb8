"""The openstreetmap source end to end: discovery jobs against a local Overpass API server."""

from __future__ import annotations

import json
import re
import time

import pytest
from api_servers import (
    AUSTIN,
    GATEWAY_TIMEOUT,
    OVERPASS_BUSY,
    OVERPASS_PATH,
    Failure,
    OverpassServer,
    node,
    relation,
    tags,
    way,
)
from click.testing import CliRunner

from outreach.kernel import DiscoveryError, DiscoveryQuery
from outreach.kernel.services.discovery import submit_discovery
from outreach.plugins.openstreetmap.client import retry_after, user_agent
from outreach.plugins.openstreetmap.mapping import address, to_business
from outreach.plugins.openstreetmap.tags import CATEGORY_TAGS, Tag, parse_tag, search_tags, tags_for_query
from outreach.web.cli import cli

LAT, LON = AUSTIN
CONTACT = "ann@example.com"

ELEMENTS = [
    node(
        1001,
        LAT + 0.001,
        LON,
        **tags(
            name="Congress Dental",
            amenity="dentist",
            addr__housenumber="101",
            addr__street="Congress Avenue",
            addr__city="Austin",
            addr__postcode="78701",
            addr__state="TX",
            phone="+1 512-555-0101",
            website="https://congress-dental.example",
            email="Hello@Congress-Dental.example",
            opening_hours="Mo-Fr 08:00-17:00",
        ),
    ),
    way(
        2002,
        LAT + 0.01,
        LON + 0.01,
        **tags(
            name="Eastside Smiles",
            healthcare="dentist",
            **{"contact__phone": "(512) 555-0202", "contact__website": "www.eastside-smiles.example"},
            **{"contact__email": "front.desk@eastside-smiles.example"},
        ),
    ),
    relation(
        3003,
        LAT - 0.02,
        LON,
        **tags(name="Campus Dental Clinic", amenity="dentist", url="http://campus.example"),
    ),
    # Too far from Austin for a 5 km radius.
    node(1004, LAT + 0.5, LON, **tags(name="Faraway Dental", amenity="dentist")),
    # A bakery and a bicycle shop, for other searches.
    node(1005, LAT, LON + 0.002, **tags(name="Crumbs", shop="bakery", **{"addr__city": "Austin"})),
    node(1006, LAT, LON - 0.003, **tags(name="Spoke Bikes", shop="bicycle", email="not an email")),
]


@pytest.fixture
def overpass():
    with OverpassServer(ELEMENTS) as server:
        yield server


def _table(server: OverpassServer | None, **options: object) -> dict[str, object]:
    table: dict[str, object] = {"contact": CONTACT, "retry_delay": 0.05, "retries": 2}
    if server is not None:
        table["overpass_url"] = server.url + OVERPASS_PATH
    table.update(options)
    return table


@pytest.fixture
def open_osm(make_settings, make_runtime):
    """A runtime whose openstreetmap source asks ``server``; Nominatim off, so nothing leaves the machine."""

    async def open_(server: OverpassServer | None, **options: object):
        settings = make_settings(
            plugins={"google_maps": {"nominatim_url": ""}, "openstreetmap": _table(server, **options)}
        )
        return await make_runtime(settings, load_entry_points=False)

    return open_


async def search(
    rt, text: str = "dentists", near: str | None = "Austin, TX", max_results: int | None = None, **options
):
    query = DiscoveryQuery(query=text, location=near, max_results=max_results, options=options)
    job = await submit_discovery(rt, "openstreetmap", query, actor="test")
    return await rt.runner.run_now(job.id)


async def leads(rt):
    return {lead.business_name: await rt.leads.get(lead.id) for lead in (await rt.leads.list()).items}


# -- searching -------------------------------------------------------------------------------------


async def test_a_search_stores_nodes_ways_and_relations_around_the_place(overpass, open_osm) -> None:
    rt = await open_osm(overpass)
    job = await search(rt)
    assert job.state == "succeeded", job.error
    assert job.counters["created"] == 3

    (query,) = overpass.queries
    assert query.startswith("[out:json]")
    assert '["amenity"="dentist"]["name"]' in query
    assert '["healthcare"="dentist"]["name"]' in query
    around = re.search(r"around:(\d+),(-?\d+\.\d+),(-?\d+\.\d+)", query)
    assert around is not None
    assert around.group(1) == "5000"
    assert abs(float(around.group(2)) - LAT) < 0.01
    assert abs(float(around.group(3)) - LON) < 0.01
    assert "out center tags;" in query
    assert re.fullmatch(r"outreach/\S+ \(\+ann@example\.com\)", overpass.user_agents[0])

    stored = await leads(rt)
    assert set(stored) == {"Congress Dental", "Eastside Smiles", "Campus Dental Clinic"}
    congress = stored["Congress Dental"]
    assert congress.discovery_source == "openstreetmap"
    assert congress.place_id == "osm:node/1001"
    assert congress.category == "Dentist"
    assert congress.location == "101 Congress Avenue, Austin, TX 78701"
    assert congress.city == "Austin"
    assert congress.country_code == "US"
    assert congress.phone == "+15125550101"
    assert congress.website_url == "https://congress-dental.example"
    assert congress.email == "hello@congress-dental.example"
    assert (congress.latitude, congress.longitude) == (pytest.approx(LAT + 0.001), pytest.approx(LON))
    metadata = congress.discovery_metadata
    assert metadata["osm_url"] == "https://www.openstreetmap.org/node/1001"
    assert metadata["attribution"] == "© OpenStreetMap contributors"
    assert metadata["matched_tag"] == "amenity=dentist"
    assert metadata["tags"]["opening_hours"] == "Mo-Fr 08:00-17:00"
    # Personal data lives on the lead (encrypted there), never in the metadata.
    assert "phone" not in metadata["tags"]
    assert "email" not in metadata["tags"]

    eastside = stored["Eastside Smiles"]
    assert eastside.place_id == "osm:way/2002"
    assert (eastside.latitude, eastside.longitude) == (pytest.approx(LAT + 0.01), pytest.approx(LON + 0.01))
    assert eastside.phone == "+15125550202"
    assert eastside.website_url == "https://www.eastside-smiles.example"
    assert eastside.email == "front.desk@eastside-smiles.example"
    assert eastside.location is None
    campus = stored["Campus Dental Clinic"]
    assert campus.place_id == "osm:relation/3003"
    assert campus.website_url == "http://campus.example"
    assert campus.latitude == pytest.approx(LAT - 0.02)


async def test_the_nearest_places_come_first_up_to_the_maximum(overpass, open_osm) -> None:
    rt = await open_osm(overpass)
    job = await search(rt, max_results=2)
    assert job.state == "succeeded", job.error
    assert set(await leads(rt)) == {"Congress Dental", "Eastside Smiles"}


async def test_the_radius_comes_from_the_config_or_the_search(overpass, open_osm) -> None:
    rt = await open_osm(overpass, radius_m=100_000)
    await search(rt)
    assert "around:100000," in overpass.queries[-1]
    assert "Faraway Dental" in await leads(rt)
    await search(rt, text="bakery", radius_m=250)
    assert "around:250," in overpass.queries[-1]
    assert "Crumbs" in await leads(rt)


async def test_searching_twice_creates_no_duplicates(overpass, open_osm) -> None:
    rt = await open_osm(overpass)
    await search(rt)
    again = await search(rt)
    assert again.state == "succeeded", again.error
    assert again.counters.get("created", 0) == 0
    assert again.counters["unchanged"] == 3
    assert (await rt.leads.list()).total == 3


async def test_raw_tags_search_what_the_table_does_not_know(overpass, open_osm) -> None:
    rt = await open_osm(overpass)
    job = await search(rt, text="bike shops", tags=["shop=bicycle"])
    assert job.state == "succeeded", job.error
    assert '["shop"="bicycle"]["name"]' in overpass.queries[0]
    (lead,) = (await leads(rt)).values()
    assert lead.business_name == "Spoke Bikes"
    assert lead.category == "Bicycle"
    assert lead.email is None  # "not an email" is left out
    job = await search(rt, text="anything", tags=["shop=*"])
    assert '["shop"]["name"]' in overpass.queries[1]
    assert set(await leads(rt)) == {"Spoke Bikes", "Crumbs"}


async def test_a_search_with_no_known_tag_says_how_to_pass_one(overpass, open_osm) -> None:
    rt = await open_osm(overpass)
    job = await search(rt, text="quantum consultants")
    assert job.state == "failed"
    assert "no known tag for 'quantum consultants'" in job.error
    assert "--tag KEY=VALUE" in job.error
    assert overpass.requests == []


async def test_a_search_needs_a_place(overpass, open_osm) -> None:
    rt = await open_osm(overpass)
    job = await search(rt, near=None)
    assert job.state == "failed"
    assert "--near" in job.error


# -- a busy server ---------------------------------------------------------------------------------


async def test_a_429_is_tried_again_after_its_retry_after(overpass, open_osm) -> None:
    rt = await open_osm(overpass)
    overpass.fail_next.append(Failure(429, OVERPASS_BUSY, {"Retry-After": "1"}))
    job = await search(rt)
    assert job.state == "succeeded", job.error
    assert job.counters["created"] == 3
    first, second = overpass.requests
    assert second.at - first.at >= 0.95


async def test_a_504_is_tried_again_with_a_backoff(overpass, open_osm) -> None:
    rt = await open_osm(overpass)
    overpass.fail_next.extend([Failure(504, GATEWAY_TIMEOUT), Failure(504, GATEWAY_TIMEOUT)])
    job = await search(rt)
    assert job.state == "succeeded", job.error
    first, second, third = overpass.requests
    assert second.at - first.at >= 0.04
    assert third.at - second.at >= 0.09  # the delay doubled


async def test_a_server_that_stays_busy_ends_the_search_with_a_sentence(overpass, open_osm) -> None:
    rt = await open_osm(overpass)
    overpass.fail_next.extend([Failure(504, GATEWAY_TIMEOUT)] * 3)
    job = await search(rt)
    assert job.state == "failed"
    assert len(overpass.requests) == 3
    assert "overloaded (HTTP 504 Gateway Timeout), and still was after 3 tries" in job.error
    assert "overpass_url" in job.error


async def test_a_long_retry_after_ends_the_search_at_once(overpass, open_osm) -> None:
    rt = await open_osm(overpass, max_retry_wait=30)
    overpass.fail_next.append(Failure(429, OVERPASS_BUSY, {"Retry-After": "600"}))
    started = time.monotonic()
    job = await search(rt)
    assert job.state == "failed"
    assert time.monotonic() - started < 5
    assert "too many requests (HTTP 429) and asks to wait 600 seconds" in job.error


async def test_a_refused_query_and_a_timed_out_one_are_sentences(overpass, open_osm) -> None:
    rt = await open_osm(overpass)
    error_page = (
        '<html><body><p><strong style="color:#FF0000">Error</strong>: line 3: static error</p></body></html>'
    )
    overpass.fail_next.append(Failure(400, error_page))
    job = await search(rt)
    assert job.state == "failed"
    assert "refused the query (HTTP 400: Error : line 3: static error)" in job.error
    timed_out = {
        "version": 0.6,
        "elements": [],
        "remark": 'runtime error: Query timed out in "query" at line 3 after 61 seconds.',
    }
    overpass.fail_next.append(Failure(200, timed_out))
    job = await search(rt)
    assert job.state == "failed"
    assert "could not finish the query (runtime error: Query timed out" in job.error
    assert "radius_m" in job.error


async def test_an_unreachable_server_is_named(open_osm) -> None:
    rt = await open_osm(None, overpass_url="http://127.0.0.1:9/api/interpreter")
    job = await search(rt)
    assert job.state == "failed"
    assert "http://127.0.0.1:9/api/interpreter could not be reached (ConnectError)" in job.error


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after("7") == 7.0
    assert retry_after(None) is None
    assert retry_after("soon") is None
    assert retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == pytest.approx(10.0)


def test_the_user_agent_names_the_contact() -> None:
    assert re.fullmatch(r"outreach/\S+ \(\+https://example\.com/me\)", user_agent("https://example.com/me"))
    assert re.fullmatch(r"outreach/\S+", user_agent(None))


# -- the mapping table -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("dentist", "amenity=dentist"),
        ("Dentists", "amenity=dentist"),
        ("restaurants", "amenity=restaurant"),
        ("Cafe", "amenity=cafe"),
        ("plumbers", "craft=plumber"),
        ("LAWYERS", "office=lawyer"),
        ("bakeries", "shop=bakery"),
        ("hairdressers", "shop=hairdresser"),
        ("doctors", "amenity=doctors"),
        ("pharmacies", "amenity=pharmacy"),
        ("hotels", "tourism=hotel"),
        ("gyms", "leisure=fitness_centre"),
        ("electricians", "craft=electrician"),
        ("accountants", "office=accountant"),
        ("real estate", "office=estate_agent"),
        ("Real-Estate Agents", "office=estate_agent"),
        ("car repair", "shop=car_repair"),
        ("car repairs", "shop=car_repair"),
        ("florists", "shop=florist"),
        ("veterinarians", "amenity=veterinary"),
        ("  coffee   shops ", "amenity=cafe"),
    ],
)
def test_common_searches_map_to_tags(text, tag) -> None:
    found = tags_for_query(text)
    assert found is not None
    assert str(found[0]) == tag


def test_the_table_is_singular_lower_case_and_well_formed() -> None:
    for text, found in CATEGORY_TAGS.items():
        assert text == text.casefold().strip()
        assert found
        assert all(isinstance(tag, Tag) and tag.value for tag in found)
    assert tags_for_query("spaceports") is None


def test_tags_are_key_equals_value() -> None:
    assert parse_tag(" shop=bakery ") == Tag("shop", "bakery")
    assert parse_tag("craft=*") == Tag("craft", None)
    assert str(parse_tag("craft=*")) == "craft=*"
    for bad in ("shop", "shop=", "=bakery", 'shop="x"', "sh op=x", "shop=a\\b"):
        with pytest.raises(DiscoveryError, match="KEY=VALUE"):
            parse_tag(bad)
    # Raw tags replace the table's, once each.
    assert search_tags("dentists", ["shop=bicycle", "shop=bicycle"]) == (Tag("shop", "bicycle"),)


def test_addresses_follow_the_country_and_email_and_website_are_cleaned() -> None:
    parts = tags(
        addr__street="Hauptstraße", addr__housenumber="5", addr__postcode="10115", addr__city="Berlin"
    )
    assert address(parts, "DE") == "Hauptstraße 5, 10115 Berlin"
    assert address({**parts, "addr:country": "DE"}, "DE") == "Hauptstraße 5, 10115 Berlin, DE"
    assert address({"addr:full": "1 Rue X, Paris"}, "FR") == "1 Rue X, Paris"
    assert address({}, "US") is None
    business = to_business(
        node(
            9,
            52.5,
            13.4,
            **tags(name="Bäckerei", shop="bakery", addr__country="de", email="mailto:Info@Baeckerei.example"),
        ),
        (Tag("shop", "bakery"),),
    )
    assert business is not None
    assert business.country_code == "DE"
    assert business.email == "info@baeckerei.example"
    assert business.place_id == "osm:node/9"
    assert to_business(node(10, 1.0, 1.0, shop="bakery"), (Tag("shop", "bakery"),)) is None


# -- the command line ------------------------------------------------------------------------------


def _config(tmp_path, server: OverpassServer) -> str:
    path = tmp_path / "outreach.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "data"}"\n\n'
        '[plugins.google_maps]\nnominatim_url = ""\n\n'
        f'[plugins.openstreetmap]\noverpass_url = "{server.url}{OVERPASS_PATH}"\ncontact = "{CONTACT}"\n'
    )
    return str(path)


def test_the_cli_passes_each_tag_to_the_search(overpass, tmp_path) -> None:
    args = ["--config", _config(tmp_path, overpass), "discover", "shops", "--source", "openstreetmap"]
    args += ["--near", "Austin, TX", "--tag", "shop=bicycle", "--tag", " shop = bakery ", "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    job = json.loads(result.stdout)
    assert job["params"]["query"]["options"] == {"tags": ["shop=bicycle", "shop=bakery"]}
    assert job["result"]["created"] == 2
    assert '["shop"="bicycle"]' in overpass.queries[0]
    assert '["shop"="bakery"]' in overpass.queries[0]


def test_the_cli_refuses_a_tag_without_a_value(overpass, tmp_path) -> None:
    args = ["--config", _config(tmp_path, overpass), "discover", "shops", "--source", "openstreetmap"]
    result = CliRunner().invoke(cli, [*args, "--near", "Austin, TX", "--tag", "shop"])
    assert result.exit_code == 2
    assert "Invalid value for '--tag'" in result.stderr
    assert "'shop' is not KEY=VALUE" in result.stderr
    assert "Traceback" not in result.output
    assert overpass.requests == []


def test_the_cli_says_how_to_pass_a_tag_for_an_unknown_search(overpass, tmp_path) -> None:
    args = ["--config", _config(tmp_path, overpass), "discover", "quantum consultants"]
    result = CliRunner().invoke(cli, [*args, "--source", "openstreetmap", "--near", "Austin, TX"])
    assert result.exit_code != 0
    assert "--tag KEY=VALUE" in result.output
    assert "Traceback" not in result.output
