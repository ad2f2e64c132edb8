"""The Maps parsers against real captures (tests/corpus/maps, values from its MANIFEST) and fixture markup."""

from __future__ import annotations

import pytest
from conftest import CORPUS
from maps_fixture import pages as fixture_pages
from maps_fixture import universe

from outreach.kernel import identity_key
from outreach.plugins.google_maps.fields import (
    coordinates_from_url,
    normalize_phone,
    parse_count,
    parse_rating,
    rebase,
    unwrap_redirect,
)
from outreach.plugins.google_maps.parse_dom import (
    has_end_marker,
    is_place_url,
    landing,
    parse_cards,
    parse_place_page,
)
from outreach.plugins.google_maps.parse_json import parse_app_state, parse_place_json, parse_tbm_map
from outreach.plugins.google_maps.result import merge, to_business

MAPS = CORPUS / "maps"


def _read(name: str) -> str:
    return (MAPS / name).read_text(encoding="utf-8")


def test_the_corpus_holds_exactly_the_files_the_manifest_names() -> None:
    manifest = _read("MANIFEST.md")
    files = sorted(p.name for p in MAPS.iterdir() if p.name != "MANIFEST.md")
    assert len(files) == 4
    for name in files:
        assert f"| {name} |" in manifest


def test_place_page_dom_2023() -> None:
    result = parse_place_page(_read("gosom_entry1_place_page_2023.html"))
    assert result.name == "Tipsy Sticks"
    assert result.categories == ["Restaurant"]
    assert result.address == "Stasandrou 10, Nicosia 1060"
    assert result.website == "https://www.thetipsysticks.com/"
    assert result.phone == "22783333"
    assert result.plus_code == "5987+WC Nicosia"
    assert result.review_count == 20
    assert result.rating == 4.7
    assert result.hours[0] == "Saturday, 10 am to 1 am"
    assert result.sponsored is False
    assert result.strategies == ["place_dom"]


def test_the_same_page_carries_its_full_record_in_app_initialization_state() -> None:
    result = parse_app_state(_read("gosom_entry1_place_page_2023.html"))
    assert result is not None
    assert result.name == "Tipsy Sticks"
    assert result.place_id == "ChIJuVkmvYYX3hQR2536Jljm9rc"
    assert result.data_id == "0x14de1786bd2659b9:0xb7f6e65826fa9ddb"
    assert (result.latitude, result.longitude) == (35.1673191, 33.3635318)
    assert result.country_code == "CY"


def test_app_initialization_record_2023() -> None:
    result = parse_place_json(_read("gosom_raw_place_appinit_2023.json"))
    assert result is not None
    assert result.name == "Kipriakon"
    assert result.categories == ["Restaurant"]
    assert result.address == "Old port, Limassol 3042"
    assert result.phone == "25 101555"
    assert result.plus_code == "M2CR+6X Limassol"
    assert result.review_count == 396
    assert result.rating == 4.2
    assert result.latitude == 34.670595399999996
    assert result.longitude == 33.042456699999995
    assert result.place_id == "ChIJDdnwdv0y5xQRRytw1ihZQeU"
    assert result.data_id == "0x14e732fd76f0d90d:0xe5415928d6702b47"
    assert result.website is None
    business = to_business(result)
    assert business is not None
    assert business.metadata["cid"] == "16519582940102929223"
    assert business.phone == "+35725101555"  # E.164, the country (CY) read from the record
    assert business.website_url is None


def test_app_initialization_record_in_greek() -> None:
    result = parse_place_json(_read("gosom_raw2_place_appinit_el_2024.json"))
    assert result is not None
    assert result.name == "Κυπριακόν"
    assert result.categories == ["Εστιατόριο"]
    assert result.review_count == 516
    assert result.rating == 4.1
    assert result.phone == "25 101555"
    assert result.place_id == "ChIJDdnwdv0y5xQRRytw1ihZQeU"
    english = parse_place_json(_read("gosom_raw_place_appinit_2023.json"))
    assert english is not None
    # One place in two languages is one lead.
    assert identity_key(to_business(result)) == identity_key(to_business(english))


def test_tbm_map_search_answer() -> None:
    text = _read("gosom_output_search_tbm_map_2024.json")
    results = parse_tbm_map(text)
    assert len(results) == 20
    first = results[0]
    assert first.name == "Dream Coffee"
    assert first.categories == ["Coffee shop"]
    assert first.address == "Eakou 74, Ilion 131 22, Greece"
    assert first.phone == "+30 21 0261 6578"
    assert first.rating == 4.8
    assert first.review_count == 48
    assert (first.latitude, first.longitude) == (38.0331931, 23.7094475)
    assert first.place_id == "ChIJoRVrMS-joRQRkzrMbbRUnBY"
    assert len({r.place_id for r in results}) == 20
    assert to_business(first).phone == "+302102616578"
    # The live answer starts with a guard line: it is read the same.
    assert [r.name for r in parse_tbm_map(")]}'\n" + text)] == [r.name for r in results]


def test_broken_inputs_give_nothing_rather_than_errors() -> None:
    assert parse_tbm_map("<html>not json</html>") == []
    assert parse_place_json(")]}'\n[1, 2") is None
    assert parse_app_state("<html><body>no state</body></html>") is None
    assert parse_place_page("<html><body><div>new layout</div></body></html>").empty
    assert parse_cards("<html></html>") == []


# -- the fixture's 2025-2026 markup, without a browser -------------------------------------


def test_cards_from_a_results_feed() -> None:
    places = universe("dentists", 6)
    html = fixture_pages.results_page("dentists", places, [], batch=7, delay_ms=0)
    cards = parse_cards(html)
    assert [c.name for c in cards] == [p.name for p in places]
    first = cards[1]
    assert first.rating == places[1].rating
    assert first.review_count == places[1].reviews
    assert first.phone == places[1].phone_national
    assert first.categories == [places[1].category]
    assert first.address == places[1].street
    assert first.website == places[1].website
    assert first.maps_url == places[1].google_url
    assert cards[0].sponsored
    assert not cards[1].sponsored
    assert not has_end_marker(html)
    assert has_end_marker(fixture_pages.END_MARKER)


def test_place_page_2026_skips_the_sponsored_heading_and_unwraps_the_website() -> None:
    sponsored = universe("dentists", 3)[0]
    page = fixture_pages.place_page(sponsored)
    assert '<h1 class="kpih0e' in page.split('<h1 class="DUwDvf')[0]  # the trap comes first
    dom = parse_place_page(page, sponsored.google_url)
    assert dom.name == sponsored.name
    assert dom.sponsored is True
    assert dom.website == sponsored.website  # from href="/url?q=...&opi=..."
    assert dom.phone == sponsored.phone_e164
    assert dom.address == sponsored.address
    embedded = parse_app_state(page)
    assert embedded is not None
    assert embedded.place_id == sponsored.place_id  # the small 2026 record
    merged = merge(dom, embedded)
    assert merged.strategies == ["place_dom", "appinit"]
    business = to_business(merged)
    assert business.confidence == 1.0
    assert to_business(dom).confidence == 0.95  # the DOM alone is trusted a little less
    assert business.metadata["sponsored"] is True
    assert "phone" not in business.metadata["raw"]  # personal data stays out of clear metadata


@pytest.mark.parametrize(
    ("text", "expected"),
    [("(91,790)", 91790), ("17,059 reviews", 17059), ("1.670", 1670), ("(1.2K)", 1200), ("516", 516)],
)
def test_counts(text: str, expected: int) -> None:
    assert parse_count(text) == expected


def test_ratings_urls_and_phones() -> None:
    assert parse_rating("4,7") == 4.7
    assert parse_rating("4.8 stars 91,790 Reviews") == 4.8
    assert unwrap_redirect("/url?q=https://a.example/x%3Fy%3D1&opi=89978449") == "https://a.example/x?y=1"
    assert unwrap_redirect("https://www.google.com/url?q=http://b.example/&sa=U") == "http://b.example/"
    assert unwrap_redirect("https://c.example/") == "https://c.example/"
    assert unwrap_redirect("javascript:void(0)") is None
    assert normalize_phone("Phone: (213) 473-0800", "US") == "+12134730800"
    assert normalize_phone("+30 21 0261 6578") == "+302102616578"
    assert normalize_phone("22 783333", None) == "22 783333"  # no country known: kept as shown
    url = (
        "https://www.google.com/maps/place/X/@1.5,2.5,17z/data=!4m7!3m6!1s0x1:0x2!8m2!3d35.1!4d33.3!19sChIJx"
    )
    assert coordinates_from_url(url) == (35.1, 33.3)
    assert rebase(url, "http://127.0.0.1:9") == url.replace("https://www.google.com", "http://127.0.0.1:9")
    assert rebase("/maps/place/Y", "https://www.google.co.uk") == "https://www.google.co.uk/maps/place/Y"
    assert rebase("https://other.example/a", "http://127.0.0.1:9") == "https://other.example/a"


def test_proxy_credentials_are_resolved_only_when_the_browser_starts(monkeypatch) -> None:
    from outreach.kernel import decode_section
    from outreach.plugins.google_maps.browser import _proxy
    from outreach.plugins.google_maps.options import GoogleMapsOptions

    raw = {
        "proxy": {"server": "http://proxy.example:3128", "username": "ann", "password": "env:MAPS_PROXY_PW"}
    }
    options = decode_section(raw, GoogleMapsOptions, where="test")
    assert str(options.proxy.password) == "env:MAPS_PROXY_PW"  # a reference, not the secret
    monkeypatch.setenv("MAPS_PROXY_PW", "s3cret")
    assert _proxy(options) == {"server": "http://proxy.example:3128", "username": "ann", "password": "s3cret"}
    with pytest.raises(Exception, match="a secret must be a reference"):
        decode_section({"proxy": {"server": "x", "password": "plain"}}, GoogleMapsOptions, where="test")


# -- a search that lands on one place's page -----------------------------------------------

SEARCH_URL = "https://www.google.com/maps/search/tipsy+sticks?hl=en"


def test_a_place_page_is_a_landing_on_one_place_by_its_url_or_its_content() -> None:
    corpus = _read("gosom_entry1_place_page_2023.html")
    # Its pane is a labelled div.m6QErb, as a feed fallback is: the title decides.
    assert landing(corpus, SEARCH_URL) == "place"
    place = universe("tipsy sticks", 3)[1]
    page = fixture_pages.place_page(place, universe("nearby tipsy sticks", 3))
    assert landing(page, place.google_url) == "place"
    assert landing(page, SEARCH_URL) == "place"
    assert landing(page) == "place"
    assert is_place_url(place.google_url)
    assert not is_place_url(SEARCH_URL)
    assert not is_place_url(None)


def test_a_results_list_is_a_feed_even_with_related_carousels_and_a_place_url_wins() -> None:
    places = universe("florists", 6)
    plain = fixture_pages.results_page("florists", places, [], batch=7, delay_ms=0)
    with_related = fixture_pages.results_page(
        "florists", places, [], batch=7, delay_ms=0, related=universe("nearby florists", 3)
    )
    assert landing(plain, "https://www.google.com/maps/search/florists") == "feed"
    assert landing(with_related) == "feed"
    assert landing(with_related, places[0].google_url) == "place"
    assert landing(fixture_pages.nothing_page("nothing here")) == "none"


def test_the_cards_of_a_list_are_the_feed_s_own_not_the_related_places() -> None:
    places = universe("florists", 6)
    related = universe("nearby florists", 3)
    html = fixture_pages.results_page("florists", places, [], batch=7, delay_ms=0, related=related)
    assert html.count('role="article"') == len(places) + 2 * len(related)  # a carousel in and after the feed
    assert [c.name for c in parse_cards(html)] == [p.name for p in places]


def test_a_place_page_has_no_result_cards_and_reads_the_place_not_its_related_places() -> None:
    place = universe("tipsy sticks", 3)[1]
    related = universe("nearby tipsy sticks", 4)[:3]
    page = fixture_pages.place_page(place, related)
    assert page.count('role="article"') == 3
    assert parse_cards(page) == []
    dom = parse_place_page(page, place.google_url)
    assert dom.name == place.name
    assert dom.categories == [place.category]
    assert dom.address == place.address
    assert dom.phone == place.phone_e164
    assert dom.website == place.website
    assert dom.rating == place.rating
    assert dom.review_count == place.reviews
    business = to_business(merge(dom, parse_app_state(page)))
    assert business.place_id == place.place_id
    assert (business.latitude, business.longitude) == (place.latitude, place.longitude)
    assert business.data_id == place.data_id
