"""Reading a site as it is written: structured data read as JSON, "own domain" by the Public
Suffix List, and addresses at domains that are not ASCII."""

from __future__ import annotations

import json

import pytest

from outreach.plugins.website.domains import registrable, same_site
from outreach.plugins.website.emails import Found, from_text, on_domain, rank
from outreach.plugins.website.page import parse_page

BUSINESS = {
    "@context": "https://schema.org",
    "@graph": [
        {
            "@type": ["Dentist", "LocalBusiness"],
            "name": "Acme Dental",
            "email": "mailto:front-desk@acme-dental.co.uk",
            "telephone": "+44 20 7946 0018",
            "sameAs": ["https://www.facebook.com/acmedental", "https://www.linkedin.com/company/acme-dental"],
            "employee": [
                {"@type": "Person", "name": "Dr. Jane Roe", "jobTitle": "Hygienist"},
                {
                    "@type": "Person",
                    "givenName": "Sam",
                    "familyName": "Smith",
                    "jobTitle": "Owner & Principal Dentist",
                    "email": "sam.smith@acme-dental.co.uk",
                },
            ],
            "founder": {"@type": "Person", "name": "Sam Smith"},
        }
    ],
}


def page_with(*blocks: str, body: str = "") -> str:
    scripts = "".join(f'<script type="application/ld+json">{block}</script>' for block in blocks)
    return f"<html><head>{scripts}</head><body>{body}</body></html>"


def test_json_ld_is_read_as_json_wherever_its_nodes_sit() -> None:
    page = parse_page(page_with(json.dumps(BUSINESS)), "https://acme-dental.co.uk/")
    assert [(f.address, f.how) for f in page.emails] == [
        ("front-desk@acme-dental.co.uk", "json-ld"),
        ("sam.smith@acme-dental.co.uk", "json-ld"),
    ]
    assert page.tel_links == ["+44 20 7946 0018"]
    assert page.socials == {
        "facebook": "https://www.facebook.com/acmedental",
        "linkedin": "https://www.linkedin.com/company/acme-dental",
    }
    assert [(p.name, p.job_title, p.email) for p in page.people] == [
        ("Dr. Jane Roe", "Hygienist", None),
        ("Sam Smith", "Owner & Principal Dentist", "sam.smith@acme-dental.co.uk"),
    ]


def test_a_block_that_is_not_json_is_searched_as_text_and_a_good_one_beside_it_still_read() -> None:
    broken = '{"@type": "Organization", "email": "hello@acme.example.com",}'  # a trailing comma
    good = json.dumps({"@type": "Person", "name": "Ann Lee", "jobTitle": "Founder"})
    page = parse_page(page_with(broken, good), "https://acme.example.com/")
    assert [(f.address, f.how) for f in page.emails] == [("hello@acme.example.com", "markup")]
    assert [p.name for p in page.people] == ["Ann Lee"]


def test_microdata_people_are_read_too() -> None:
    body = (
        '<div itemscope itemtype="https://schema.org/Person"><span itemprop="name">Marta  Nowak</span>'
        '<span itemprop="jobTitle">Właścicielka</span></div>'
    )
    page = parse_page(page_with(body=body), "https://acme.pl/")
    assert [(p.name, p.job_title, p.how) for p in page.people] == [
        ("Marta Nowak", "Właścicielka", "microdata")
    ]


@pytest.mark.parametrize(
    ("address", "host", "own"),
    [
        ("info@acme.co.uk", "www.acme.co.uk", True),
        ("info@mail.acme.co.uk", "acme.co.uk", True),
        ("spam@co.uk", "acme.co.uk", False),  # a public suffix is nobody's own domain
        ("info@other.co.uk", "acme.co.uk", False),
        ("me@alice.github.io", "bob.github.io", False),  # each github.io site is its own
        ("info@xn--bcher-kva.de", "www.bücher.de", True),
        ("info@localhost", "localhost", True),
        ("info@127.0.0.1", "127.0.0.2", False),
    ],
)
def test_own_domain_follows_the_public_suffix_list(address: str, host: str, own: bool) -> None:
    assert on_domain(address, [host]) is own


def test_registrable_domains() -> None:
    assert registrable("shop.acme.com.au") == "acme.com.au"
    assert registrable("com.au") is None
    assert registrable("192.0.2.7") is None
    assert same_site("acme.com", "WWW.ACME.COM.")


def test_ranking_puts_a_suffix_address_with_the_third_parties() -> None:
    ranked = rank([Found("spam@co.uk", "text"), Found("owner@acme.co.uk", "text")], ["acme.co.uk"])
    assert [(e["address"], e["own_domain"], e["third_party"]) for e in ranked] == [
        ("owner@acme.co.uk", True, False),
        ("spam@co.uk", False, True),
    ]


def test_an_address_at_a_non_ascii_domain_is_found_in_its_sendable_form() -> None:
    found = from_text("Schreiben Sie uns: info@bücher.de oder „kontakt@müller-bau.de“.")
    assert [f.address for f in found] == ["info@xn--bcher-kva.de", "kontakt@xn--mller-bau-q9a.de"]
    assert on_domain(found[0].address, ["bücher.de"])
