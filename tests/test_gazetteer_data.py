"""The gazetteer's shipped data: known towns where they are, the country table, the attribution."""

from __future__ import annotations

import json
from importlib.resources import files

import pytest

from outreach.kernel import load_gazetteer
from outreach.kernel.gazetteer import countries
from outreach.kernel.timezones import timezone_at
from outreach.plugins.csv_import.countries import country_code

# name, qualifiers, then where it is: latitude, longitude, country, admin1 region, timezone.
KNOWN_TOWNS = [
    ("Austin", ["TX"], 30.26715, -97.74306, "US", "TX", "America/Chicago"),
    ("Springfield", ["IL"], 39.80172, -89.64371, "US", "IL", "America/Chicago"),
    ("Springfield", ["MA"], 42.10148, -72.58981, "US", "MA", "America/New_York"),
    ("München", [], 48.13743, 11.57549, "DE", "02", "Europe/Berlin"),  # an alternate name of Munich
    ("São Paulo", [], -23.5475, -46.63611, "BR", "27", "America/Sao_Paulo"),
    ("Sao Paulo", ["Brazil"], -23.5475, -46.63611, "BR", "27", "America/Sao_Paulo"),
    ("Kenora", ["CA"], 49.76741, -94.48985, "CA", "08", "America/Winnipeg"),  # 15,096 people
    ("Trossingen", ["DE"], 48.07667, 8.64409, "DE", "01", "Europe/Berlin"),  # 15,040 people
]


@pytest.mark.parametrize(("name", "qualifiers", "lat", "lng", "country", "region", "zone"), KNOWN_TOWNS)
def test_known_towns_are_where_they_are(name, qualifiers, lat, lng, country, region, zone) -> None:
    town = load_gazetteer().find_town(name, qualifiers)
    assert town is not None
    assert (town.latitude, town.longitude) == pytest.approx((lat, lng), abs=0.01)
    assert (town.country_code, town.region, town.timezone) == (country, region, zone)


def test_the_table_holds_the_towns_their_names_and_the_qualifiers() -> None:
    gazetteer = load_gazetteer()
    assert len(gazetteer.towns) > 30_000
    assert {t.region for t in gazetteer.towns_named("Portland", country_code="US")} >= {"OR", "ME"}
    assert all(gazetteer.is_qualifier(q) for q in ("Texas", "DEU", "usa", "Brazil"))


def test_the_country_table_comes_from_the_shipped_file() -> None:
    table = {country.code: country for country in countries()}
    assert len(table) > 240
    assert (table["DE"].name, table["DE"].iso3) == ("Germany", "DEU")
    assert [country_code(v) for v in ("Germany", "DEU", "de", "USA", "Österreich")] == [
        "DE",
        "DE",
        "DE",
        "US",
        "AT",
    ]


def test_the_files_ship_with_the_package_and_credit_geonames() -> None:
    data = files("outreach.kernel").joinpath("data")
    assert data.joinpath("gazetteer.json.gz").is_file()
    attribution = json.loads(data.joinpath("countries.json").read_text(encoding="utf-8"))["attribution"]
    assert "GeoNames" in attribution
    assert "CC BY 4.0" in attribution
    assert "CC BY 4.0" in data.joinpath("README.md").read_text(encoding="utf-8")


def test_where_two_zones_overlap_the_local_one_wins() -> None:
    # Ürümqi: Xinjiang time (UTC+6) beside Beijing's; the rest of China is on Beijing's.
    assert timezone_at(43.80096, 87.60046) == "Asia/Urumqi"
    assert timezone_at(39.9042, 116.4074) == "Asia/Shanghai"
    assert timezone_at(30.26715, -97.74306) == "America/Chicago"
    assert timezone_at(0.0, -30.0).startswith("Etc/")  # at sea
    assert timezone_at(91.0, 0.0) is None
