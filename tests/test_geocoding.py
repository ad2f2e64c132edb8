"""Geocoding: "lat,lng", the offline gazetteer, Nominatim on a local server, and the provider chain."""

from __future__ import annotations

import time

import pytest
from maps_fixture import MapsFixture

from outreach.kernel import DiscoveryError, GeoPlace, decode_section, hookimpl
from outreach.kernel.errors import OutreachError
from outreach.plugins.google_maps.options import GoogleMapsOptions

FIXTUREVILLE = {
    "place_id": 4242,
    "lat": "30.1500",
    "lon": "-97.1500",
    "display_name": "Fixtureville, Travis County, Texas, United States",
    "boundingbox": ["30.1000", "30.2000", "-97.2000", "-97.1000"],
    "address": {"town": "Fixtureville", "country_code": "us"},
}


@pytest.fixture(scope="module")
def nominatim():
    with MapsFixture(nominatim={"fixtureville": FIXTUREVILLE, "second town": FIXTUREVILLE}) as server:
        yield server


@pytest.fixture
async def geo_runtime(make_settings, make_runtime, nominatim):
    settings = make_settings(
        plugins={
            "google_maps": {
                "nominatim_url": nominatim.url + "/nominatim",
                "nominatim_contact": "ann@example.com",
                "nominatim_interval": 0.3,
            }
        }
    )
    return await make_runtime(settings, load_entry_points=False)


async def test_coordinates_need_no_geocoder(geo_runtime) -> None:
    place = await geo_runtime.geocoding.geocode(" 30.2672, -97.7431 ")
    assert (place.latitude, place.longitude, place.source) == (30.2672, -97.7431, "coordinates")
    with pytest.raises(DiscoveryError, match="not a position on Earth"):
        await geo_runtime.geocoding.geocode("95.0,10.0")


async def test_the_offline_gazetteer_knows_towns_and_their_regions(geo_runtime, nominatim) -> None:
    before = nominatim.hits["nominatim"]
    austin = await geo_runtime.geocoding.geocode("Austin, TX")
    assert austin.source == "gazetteer"
    assert austin.country_code == "US"
    assert abs(austin.latitude - 30.267) < 0.01
    assert abs(austin.longitude + 97.743) < 0.01
    paris_texas = await geo_runtime.geocoding.geocode("Paris, TX")
    assert paris_texas.country_code == "US"
    assert (await geo_runtime.geocoding.geocode("Λεμεσός")).country_code == "CY"
    assert nominatim.hits["nominatim"] == before  # no network needed


async def test_nominatim_answers_what_the_gazetteer_does_not_and_is_cached(
    geo_runtime, nominatim, data_dir
) -> None:
    before = nominatim.hits["nominatim"]
    place = await geo_runtime.geocoding.geocode("Fixtureville")
    assert place.source == "nominatim"
    assert (place.latitude, place.longitude) == (30.15, -97.15)
    assert place.bbox == (30.1, -97.2, 30.2, -97.1)  # south, west, north, east
    assert place.country_code == "US"
    assert "ann@example.com" in nominatim.user_agents[-1]
    assert nominatim.user_agents[-1].startswith("outreach/")
    again = await geo_runtime.geocoding.geocode("fixtureville")
    assert again == place
    assert nominatim.hits["nominatim"] == before + 1  # the second answer came from the cache
    assert (data_dir / "cache" / "nominatim.json").exists()


async def test_nominatim_is_asked_at_most_once_per_interval(geo_runtime) -> None:
    started = time.monotonic()
    await geo_runtime.geocoding.geocode("Second Town")
    with pytest.raises(DiscoveryError):
        await geo_runtime.geocoding.geocode("Nowhere Qqqzzx")
    assert time.monotonic() - started >= 0.3


async def test_an_unknown_place_is_a_sentence(geo_runtime) -> None:
    with pytest.raises(DiscoveryError) as raised:
        await geo_runtime.geocoding.geocode("Qqqzzx Unknownville")
    message = str(raised.value)
    assert "Could not find the place 'Qqqzzx Unknownville'" in message
    assert "lat,lng" in message
    with pytest.raises(DiscoveryError, match="The place is empty"):
        await geo_runtime.geocoding.geocode("   ")


async def test_an_unreachable_nominatim_is_named_in_the_error(make_settings, make_runtime) -> None:
    settings = make_settings(plugins={"google_maps": {"nominatim_url": "http://127.0.0.1:9"}})
    rt = await make_runtime(settings, load_entry_points=False)
    with pytest.raises(DiscoveryError, match=r"nominatim: http://127.0.0.1:9 could not be reached"):
        await rt.geocoding.geocode("Qqqzzx Unknownville")


async def test_plugins_add_geocoders_and_order_decides(make_settings, make_runtime) -> None:
    class Atlas:
        name = "atlas"
        order = 5

        async def geocode(self, text: str, *, language: str = "en") -> GeoPlace | None:
            if text == "Austin, TX":
                return GeoPlace(name="Atlas Austin", latitude=1.0, longitude=2.0, source="atlas")
            return None

    class AtlasPlugin:
        @hookimpl
        def register_geocoders(self, register) -> None:
            register(Atlas())

    settings = make_settings(plugins={"google_maps": {"nominatim_url": ""}})
    rt = await make_runtime(settings, load_entry_points=False, extra_plugins=[("atlas", AtlasPlugin())])
    assert [g.name for g in rt.plugins.sorted_geocoders()] == ["atlas", "gazetteer"]
    assert (await rt.geocoding.geocode("Austin, TX")).source == "atlas"  # asked first
    assert (await rt.geocoding.geocode("Nicosia")).source == "gazetteer"  # the next one knows
    infos = {info.name: info for info in rt.plugins.plugins()}
    assert infos["google_maps"].registered["geocoder"] == ["gazetteer"]


async def test_bad_plugin_options_are_config_errors(make_settings, make_runtime) -> None:
    # Start-up refuses them, even though the plugin reads its table only when it registers.
    with pytest.raises(OutreachError, match=r"'plugins\.google_maps': 'pages' must be at least 1"):
        await make_runtime(make_settings(plugins={"google_maps": {"pages": 0}}), load_entry_points=False)
    with pytest.raises(OutreachError, match=r"unknown key 'plugins\.google_maps\.colour'"):
        decode_section({"colour": "red"}, GoogleMapsOptions, where="test", prefix="plugins.google_maps.")
