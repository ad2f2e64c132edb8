"""The website enricher's extractors as pure functions: every obfuscation, junk, ranking, and fuzzing."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.plugins.website.emails import (
    Found,
    clean,
    decode_cfemail,
    from_mailto,
    from_text,
    junk_reason,
    rank,
)
from outreach.plugins.website.links import choose_pages
from outreach.plugins.website.page import Link, decode_body, parse_page, social_profile
from outreach.plugins.website.phones import find_phones, region_for


def cf(address: str, key: int) -> str:
    return f"{key:02x}" + "".join(f"{ord(c) ^ key:02x}" for c in address)


def addresses(found: list[Found]) -> list[str]:
    return [f.address for f in found]


def test_plain_and_obfuscated_addresses_in_text() -> None:
    text = (
        "Mail info [at] acme [dot] com, Sales(at)acme(dot)de, Büro: kontakt [ät] acme [punkt] at, "
        "bob at acme dot co dot uk, or Jane.Doe@Acme.COM. Meet us at noon dot."
    )
    found = from_text(text)
    assert addresses(found) == [
        "jane.doe@acme.com",
        "info@acme.com",
        "sales@acme.de",
        "kontakt@acme.at",
        "bob@acme.co.uk",
    ]
    assert [f.how for f in found] == ["text", "obfuscated", "obfuscated", "obfuscated", "obfuscated"]


def test_mailto_links_with_several_addresses_and_a_query() -> None:
    assert addresses(from_mailto("MAILTO:%20Info@Acme.com,%20b@acme.com?subject=Hi&cc=c@acme.com")) == [
        "info@acme.com",
        "b@acme.com",
    ]
    assert from_mailto("http://acme.com") == []
    assert from_mailto("mailto:") == []


def test_cloudflare_protection_is_undone() -> None:
    assert decode_cfemail(cf("owner@bakery.de", 0x8C)) == "owner@bakery.de"
    assert decode_cfemail(cf("Owner@Bakery.de", 0x00)) == "owner@bakery.de"
    for broken in ("", "zz", "abc", "5a", "5a" + "00" * 3, "g" * 10):
        assert decode_cfemail(broken) is None


def test_escaping_leftovers_are_trimmed() -> None:
    assert clean("u003cinfo@acme.com") == "info@acme.com"
    assert clean("%20Info@Acme.com.") == "info@acme.com"
    assert clean("not an address") is None
    assert clean("a" * 250 + "@acme.com") is None


def test_junk_is_recognized() -> None:
    assert junk_reason("logo@2x.png") == "a file name"
    assert junk_reason("you@example.com") == "a placeholder"
    assert junk_reason("firstname.lastname@acme.com") == "a placeholder"
    assert junk_reason("0123456789abcdef0123@o1.ingest.sentry.io") == "the site platform's"
    assert junk_reason("x@sentry-next.wixpress.com") == "the site platform's"
    assert junk_reason("0123456789abcdef0123456789abcdef@acme.com") == "a generated id"
    assert junk_reason("no-reply@acme.com") == "a no-reply address"
    assert junk_reason("info@acme.com") is None
    assert junk_reason("noreen@acme.com") is None


def test_ranking_prefers_own_domain_then_free_mail_then_third_parties() -> None:
    found = [
        Found("design@agency.com", "text", "http://acme.com/"),
        Found("acme@gmail.com", "mailto", "http://acme.com/"),
        Found("jane@acme.com", "text", "http://acme.com/team"),
        Found("info@mail.acme.com", "text", "http://acme.com/"),
        Found("info@mail.acme.com", "text", "http://acme.com/contact"),
        Found("hello@acme.com", "mailto", "http://acme.com/contact"),
        Found("logo@2x.png", "text", "http://acme.com/"),
    ]
    ranked = rank(found, ["www.acme.com"])
    assert [e["address"] for e in ranked] == [
        "hello@acme.com",  # own domain, mailto
        "info@mail.acme.com",  # own (sub)domain, two pages
        "jane@acme.com",
        "acme@gmail.com",
        "design@agency.com",
    ]
    assert ranked[1]["pages"] == ["http://acme.com/", "http://acme.com/contact"]
    assert ranked[1]["source"] == "http://acme.com/"
    assert ranked[-1]["third_party"] is True
    assert ranked[-2]["free_mail"] is True


def test_page_facts() -> None:
    page = parse_page(
        b'<html><head><meta charset="iso-8859-1"><title> Caf\xe9  Sol </title>'
        b'<meta name="Description" content="Breakfast &amp; lunch"></head><body>'
        b'<h1>Caf\xe9 Sol</h1><a href="/kontakt">Kontakt</a><a href="tel:030%20123456">call</a>'
        b'<a href="https://www.instagram.com/p/abc">a post</a><a href="https://instagram.com/cafesol?hl=de">ig</a>'
        b'<script type="application/ld+json">{"email": "mailto:team@cafesol.de"}</script>'
        b"<script>var x = 'dev@tracker.io';</script></body></html>",
        "http://cafesol.de/",
    )
    assert page.title == "Café Sol"
    assert page.description == "Breakfast & lunch"
    assert page.headline == "Café Sol"
    assert page.links[0] == Link("http://cafesol.de/kontakt", "Kontakt")
    assert page.tel_links == ["030%20123456"]
    assert page.socials == {"instagram": "https://instagram.com/cafesol"}
    assert [(f.address, f.how) for f in page.emails] == [("team@cafesol.de", "json-ld")]


def test_social_profiles_are_told_from_share_buttons() -> None:
    assert social_profile("https://www.facebook.com/sharer/sharer.php?u=x") is None
    assert social_profile("https://twitter.com/intent/tweet?text=x") is None
    assert social_profile("https://www.facebook.com/tr?id=1") is None
    assert social_profile("https://x.com/acme/") == ("x", "https://x.com/acme")
    assert social_profile("https://de-de.facebook.com/acme") == (
        "facebook",
        "https://de-de.facebook.com/acme",
    )


def test_contact_like_pages_are_chosen_one_of_each_kind_first() -> None:
    links = [
        Link("http://acme.com/contact", "Contact"),
        Link("http://acme.com/contact-form", "Write to us via contact form"),
        Link("http://acme.com/ueber-uns", "Wir"),
        Link("http://acme.com/legal/impressum", "Legal"),
        Link("http://other.com/contact", "Partner contact"),
        Link("http://acme.com/contact.pdf", "Contact (PDF)"),
        Link("http://acme.com/chi-siamo", "Chi siamo"),
        Link("http://acme.com/team", "Team"),
    ]
    chosen = choose_pages(links, {"www.acme.com"}, {"http://acme.com/"}, 4)
    assert chosen == [
        ("http://acme.com/contact", "contact"),
        ("http://acme.com/legal/impressum", "imprint"),
        ("http://acme.com/ueber-uns", "about"),
        ("http://acme.com/team", "team"),
    ]
    assert len(choose_pages(links, {"acme.com"}, set(), 10)) == 6


def test_phone_region_comes_from_country_address_or_domain() -> None:
    assert region_for("de", None, None) == "DE"
    assert region_for(None, "200 Congress Ave, Austin, TX 78701", None) == "US"
    assert region_for(None, "Rue de Rivoli 1, Paris, France", None) == "FR"
    assert region_for(None, "Somewhere", "www.bakery.co.uk") == "GB"
    assert region_for(None, None, "startup.io") is None
    phones = find_phones([("http://cafesol.de/", "Tel. 030 1234567, Fax +49 30 7654321", [])], "DE")
    assert [p["number"] for p in phones] == ["+49301234567", "+49307654321"]
    assert find_phones([("u", "Tel. 030 1234567", [])], None) == []


def test_bodies_decode_by_header_then_meta_then_utf8() -> None:
    assert decode_body("Käse".encode("cp1252"), "windows-1252") == "Käse"
    assert decode_body(b'<meta charset="latin-1">K\xe4se').endswith("Käse")
    assert decode_body("Käse".encode(), "no-such-charset") == "Käse"


# -- the extractors never raise, whatever a website sends -----------------------------------

HTMLISH = st.text(
    alphabet=st.sampled_from(list("<>/=\"' &#;@.[]()-_:?abcdefmailtohrefxyz0123456789\n\t\x00é")),
    max_size=400,
)
FRAGMENTS = st.lists(
    st.sampled_from(
        [
            "<a href='mailto:",
            '<a href="tel:',
            "<span data-cfemail='",
            "/cdn-cgi/l/email-protection#",
            " [at] ",
            "(dot)",
            " at ",
            " dot ",
            "&#64;",
            "info@acme.com",
            "<title>",
            "<meta name='description' content='",
            "<script type='application/ld+json'>",
            "</script>",
            "<h1>",
            "+1 512 555 0100",
            "<a href='//[::1",
            "<a href='http://[",
            "https://facebook.com/",
            "<base href='",
            "\x00",
            "<svg><a href='x'>",
        ]
    )
    | HTMLISH,
    max_size=30,
).map("".join)


@settings(max_examples=150, deadline=None)
@given(FRAGMENTS)
def test_parse_page_never_raises_on_text(content: str) -> None:
    facts = parse_page(content, "http://acme.com/")
    find_phones([("http://acme.com/", facts.text, facts.tel_links)], "US")
    rank(facts.emails, ["acme.com"])
    choose_pages(facts.links, {"acme.com"}, set(), 4)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600))
def test_parse_page_never_raises_on_bytes(content: bytes) -> None:
    parse_page(content, "http://acme.com/")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_address_helpers_never_raise(text: str) -> None:
    from_text(text)
    from_mailto("mailto:" + text)
    decode_cfemail(text)
    clean(text)
    region_for(text[:2], text, text)
