"""The website enricher against real HTTP: fixture sites served on loopback, reached directly or by proxy.

Names like ``acme-dental.com`` resolve nowhere on this machine; the enricher reaches
them through the fixture server acting as its forward proxy (``[plugins.website]
proxy``, or ``HTTP_PROXY``), which is also how those two settings are tested. The
sites on ``127.0.0.1`` and ``localhost`` are reached directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from itertools import pairwise

import pytest
from local_sites import Reply, SiteServer, endless, html, redirect, trickle

from outreach.kernel import Lead
from outreach.plugins.website import WebsiteEnricher, WebsiteOptions

PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
)


def cf(address: str, key: int = 0x5A) -> str:
    """``address`` as Cloudflare's email protection writes it."""
    return f"{key:02x}" + "".join(f"{ord(c) ^ key:02x}" for c in address)


def entities(text: str) -> str:
    return "".join(f"&#{ord(c)};" for c in text)


ACME_HOME = """
<h1>Acme Dental</h1>
<p>Gentle family dentistry in Austin since 1998. Call (512) 555-0143.</p>
<img src="/img/logo@2x.png" alt="logo@2x.png">
<p>Example: you@example.com</p>
<script>Sentry.init({dsn: "https://0123456789abcdef0123456789abcdef@o12345.ingest.sentry.io/42"})</script>
<nav>
  <a href="/contact">Contact</a> <a href="/impressum">Impressum</a> <a href="/about-us">About us</a>
  <a href="/team">Our team</a> <a href="/private/kontakt">Kontakt (intern)</a>
  <a href="/services">Services</a>
  <a href="/brochure.pdf">Contact brochure</a>
</nav>
<footer>
  <a href="https://www.facebook.com/sharer/sharer.php?u=x">Share</a>
  <a href="https://www.facebook.com/AcmeDentalAustin/?ref=footer">Facebook</a>
  <a href="https://instagram.com/acmedental">Instagram</a>
  <a href="https://www.linkedin.com/company/acme-dental">LinkedIn</a>
  <a href="https://twitter.com/acmedental">Twitter</a>
  <a href="https://www.youtube.com/@acmedental">YouTube</a>
  <a href="https://www.tiktok.com/@acmedental">TikTok</a>
  <a href="javascript:alert(1)">Nothing</a>
</footer>
"""
ACME_HEAD = (
    '<meta name="description" content="Family dentist in Austin, TX: cleanings, crowns, emergencies.">'
    '<meta property="og:site_name" content="Acme Dental">'
)


def acme_site() -> dict[str, Reply]:
    home = html(ACME_HOME, "Acme Dental – Family dentist in Austin")
    home.body = str(home.body).replace("</title>", "</title>" + ACME_HEAD)
    return {
        "/robots.txt": Reply("User-agent: *\nDisallow: /private\n", content_type="text/plain"),
        "/": home,
        "/contact": html(
            '<p>Write to <a href="mailto:Info@Acme-Dental.com?subject=Hello">us</a> or call '
            '<a href="tel:+1-512-555-0100">the front desk</a>.</p>'
            "<p>Website by webmaster@agency-design.com</p>",
            "Contact",
        ),
        "/impressum": html(
            "<p>E-Mail: praxis [at] acme-dental [dot] com</p>"
            f"<p>Presse: {entities('press@acme-dental.com')}</p>",
            "Impressum",
        ),
        "/about-us": html(
            f'<a href="/cdn-cgi/l/email-protection#{cf("dr.smith@acme-dental.com")}">'
            "[email&#160;protected]</a>"
            f'<span class="__cf_email__" data-cfemail="{cf("office@acme-dental.com", 0x13)}">'
            "[email protected]</span>",
            "About",
        ),
        "/team": html(
            "<p>Jane: jane (at) acme-dental (dot) com</p><p>Bob: bob at acme-dental dot com</p>"
            "<p>Old address: acmedental@gmail.com</p>",
            "Team",
        ),
        "/private/kontakt": html("<p>secret@acme-dental.com</p>"),
    }


@pytest.fixture(autouse=True)
def _no_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def sites() -> AsyncIterator[SiteServer]:
    server = SiteServer()
    server.add("acme-dental.com", acme_site())
    server.add("old-bakery.com", {"*": redirect("http://www.old-bakery.com:8443/")})
    server.add(
        "www.old-bakery.com:8443", {"/": redirect("/home", 302), "/home": html("<p>info@old-bakery.com</p>")}
    )
    server.add("slow-plumber.com", {"/": html("<p>late@slow-plumber.com</p>")})
    server.sites["slow-plumber.com"]["/"].delay = 5
    server.add("drip-florist.com", {"/": Reply(content_type="text/html", stream=trickle(pause=0.3))})
    server.add(
        "huge-hardware.com",
        {
            "/": Reply(
                content_type="text/html", stream=endless(b"<p>sales@huge-hardware.com " + b"x" * 60_000)
            )
        },
    )
    server.add(
        "pdf-printer.com", {"/": Reply(b"%PDF-1.7 info@pdf-printer.com", content_type="application/pdf")}
    )
    server.add("broken-bistro.com", {"/": Reply("oops", status=500, content_type="text/plain")})
    server.add(
        "shy-tailor.com",
        {
            "/robots.txt": Reply("down", status=500, content_type="text/plain"),
            "/": html("<p>x@shy-tailor.com</p>"),
        },
    )
    await server.start(ports=2)
    yield server
    await server.close()


def options(server: SiteServer, **overrides: object) -> WebsiteOptions:
    values: dict[str, object] = {"proxy": server.proxy, "host_delay": 0.0, "timeout": 2.0, "max_pages": 4}
    values.update(overrides)
    return WebsiteOptions(**values)  # type: ignore[arg-type]


def lead(url: str | None, **fields: object) -> Lead:
    return Lead(id=1, business_name="Test business", website_url=url, **fields)  # type: ignore[arg-type]


async def test_contact_pages_are_read_and_every_way_of_writing_an_address_is_found(sites) -> None:
    enricher = WebsiteEnricher(options(sites, max_pages=5))
    result = await enricher.enrich(lead("http://acme-dental.com/", location="1 Main St, Austin, TX 78701"))
    data = result.data
    assert data["reachable"] is True
    kinds = {page["kind"]: page for page in data["pages"]}
    assert set(kinds) == {"home", "contact", "imprint", "about", "team"}
    addresses = {e["address"]: e for e in data["emails"]}
    assert {
        "info@acme-dental.com",  # mailto, case-folded, query dropped
        "praxis@acme-dental.com",  # [at] / [dot]
        "press@acme-dental.com",  # HTML entities
        "dr.smith@acme-dental.com",  # Cloudflare link
        "office@acme-dental.com",  # Cloudflare data-cfemail
        "jane@acme-dental.com",  # (at) / (dot)
        "bob@acme-dental.com",  # " at " / " dot "
        "acmedental@gmail.com",
        "webmaster@agency-design.com",
    } == set(addresses)
    assert "mailto" in addresses["info@acme-dental.com"]["how"]
    assert addresses["info@acme-dental.com"]["source"] == "http://acme-dental.com/contact"
    assert addresses["praxis@acme-dental.com"]["how"] == ["obfuscated"]
    assert addresses["office@acme-dental.com"]["how"] == ["cloudflare"]
    # Own domain first (the mailto one leading), free mail next, the agency last and marked.
    ranked = [e["address"] for e in data["emails"]]
    assert ranked[0] == "info@acme-dental.com"
    assert ranked[-2:] == ["acmedental@gmail.com", "webmaster@agency-design.com"]
    assert addresses["webmaster@agency-design.com"]["third_party"] is True
    assert addresses["acmedental@gmail.com"]["free_mail"] is True
    assert all(e["own_domain"] for e in data["emails"][:-2])
    assert [e["rank"] for e in data["emails"]] == list(range(1, len(ranked) + 1))
    assert result.lead_fields["email"] == "info@acme-dental.com"
    assert result.confidence == 0.9
    # Phones in the lead's region, tel: links first; the first becomes the lead's phone.
    assert [p["number"] for p in data["phones"]] == ["+15125550100", "+15125550143"]
    assert result.lead_fields["phone"] == "+1 512-555-0100"
    assert data["socials"] == {
        "facebook": "https://www.facebook.com/AcmeDentalAustin",
        "instagram": "https://instagram.com/acmedental",
        "linkedin": "https://www.linkedin.com/company/acme-dental",
        "x": "https://twitter.com/acmedental",
        "youtube": "https://www.youtube.com/@acmedental",
        "tiktok": "https://www.tiktok.com/@acmedental",
    }
    assert data["title"] == "Acme Dental – Family dentist in Austin"
    assert data["description"].startswith("Family dentist in Austin, TX")
    assert data["headline"] == "Acme Dental"
    assert data["site_name"] == "Acme Dental"


async def test_robots_txt_is_obeyed_and_read_once_per_site(sites) -> None:
    enricher = WebsiteEnricher(options(sites, max_pages=5))
    await asyncio.gather(
        enricher.enrich(lead("http://acme-dental.com/")), enricher.enrich(lead("http://acme-dental.com/"))
    )
    result = await enricher.enrich(lead("http://acme-dental.com/"))
    private = next(p for p in result.data["pages"] if p["url"].endswith("/private/kontakt"))
    assert private["blocked"] is True
    assert "robots.txt" in private["error"]
    assert sites.requests_to("acme-dental.com", "/private/kontakt") == []
    assert "secret@acme-dental.com" not in {e["address"] for e in result.data["emails"]}
    assert len(sites.requests_to("acme-dental.com", "/robots.txt")) == 1
    assert all(seen.via_proxy for seen in sites.requests_to("acme-dental.com"))


async def test_a_robots_txt_that_fails_forbids_the_whole_site(sites) -> None:
    result = await WebsiteEnricher(options(sites)).enrich(lead("http://shy-tailor.com"))
    assert result.data["reachable"] is False
    assert result.data["pages"][0]["blocked"] is True
    assert sites.requests_to("shy-tailor.com", "/") == []


async def test_redirects_are_followed_across_hosts_and_ports(sites) -> None:
    result = await WebsiteEnricher(options(sites)).enrich(lead("old-bakery.com"))
    data = result.data
    assert data["url"] == "http://old-bakery.com/"
    assert data["final_url"] == "http://www.old-bakery.com:8443/home"
    assert data["pages"][0]["redirects"] == ["http://old-bakery.com/", "http://www.old-bakery.com:8443/"]
    (email,) = data["emails"]
    assert email["address"] == "info@old-bakery.com"
    assert email["own_domain"] is True
    # Each origin's robots.txt was asked for before its first page.
    assert sites.requests_to("www.old-bakery.com", "/robots.txt")
    assert sites.requests_to("old-bakery.com", "/robots.txt")


async def test_redirect_loops_end(sites) -> None:
    sites.add("loop-laundry.com", {"/a": redirect("/b"), "/b": redirect("/a"), "/": redirect("/a")})
    result = await WebsiteEnricher(options(sites, max_redirects=3)).enrich(lead("http://loop-laundry.com/"))
    assert result.data["reachable"] is False
    assert "redirects" in result.data["error"]


async def test_a_slow_site_times_out_without_holding_the_lead(sites) -> None:
    enricher = WebsiteEnricher(options(sites, timeout=0.5))
    started = asyncio.get_running_loop().time()
    slow, drip = await asyncio.gather(
        enricher.enrich(lead("http://slow-plumber.com/")), enricher.enrich(lead("http://drip-florist.com/"))
    )
    assert asyncio.get_running_loop().time() - started < 3
    for result in (slow, drip):
        assert result.data["reachable"] is False
        assert "timed out" in result.data["error"]
        assert result.confidence == 0.0


async def test_a_huge_page_is_cut_at_the_size_cap(sites) -> None:
    result = await WebsiteEnricher(options(sites, max_bytes=200_000)).enrich(
        lead("http://huge-hardware.com/")
    )
    home = result.data["pages"][0]
    assert home["truncated"] is True
    assert home["bytes"] == 200_000
    assert result.data["emails"][0]["address"] == "sales@huge-hardware.com"
    await asyncio.sleep(0.1)
    # The server stopped being read soon after the cap, far from the 200 MB it would send.
    assert sites.sent[("huge-hardware.com", "/")] < 10_000_000


async def test_non_html_is_recorded_but_not_downloaded(sites) -> None:
    result = await WebsiteEnricher(options(sites)).enrich(lead("http://pdf-printer.com/"))
    home = result.data["pages"][0]
    assert home["content_type"] == "application/pdf"
    assert home["bytes"] == 0
    assert result.data["reachable"] is True
    assert result.data["emails"] == []
    assert "email" not in result.lead_fields


async def test_a_site_that_fails_is_unreachable_with_its_status(sites) -> None:
    result = await WebsiteEnricher(options(sites)).enrich(lead("http://broken-bistro.com/"))
    assert result.data["reachable"] is False
    assert result.data["status"] == 500
    assert result.confidence == 0.0


async def test_no_website_and_nonsense_are_findings_not_errors(sites) -> None:
    enricher = WebsiteEnricher(options(sites))
    assert (await enricher.enrich(lead(None))).data["error"] == "no website"
    assert (await enricher.enrich(lead("mailto:x@y.com"))).data["error"] == "the website is not a web address"
    unknown = await enricher.enrich(lead("http://nowhere-at-all.com/"))
    assert unknown.data["reachable"] is False
    assert unknown.data["status"] == 404


async def test_direct_requests_and_a_redirect_to_another_port(sites) -> None:
    first, second = sites.ports
    sites.add(f"127.0.0.1:{first}", {"/": redirect(f"http://localhost:{second}/")})
    sites.add(
        f"localhost:{second}",
        {"/": html('<a href="/contact-us">Contact us</a>'), "/contact-us": html("<p>hi@localhost.com</p>")},
    )
    result = await WebsiteEnricher(options(sites, proxy=None)).enrich(lead(f"http://127.0.0.1:{first}/"))
    assert result.data["final_url"] == f"http://localhost:{second}/"
    assert [p["kind"] for p in result.data["pages"]] == ["home", "contact"]
    assert result.data["emails"][0]["address"] == "hi@localhost.com"
    assert not any(seen.via_proxy for seen in sites.seen)


async def test_the_environment_proxy_is_used(sites, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", sites.proxy)
    result = await WebsiteEnricher(options(sites, proxy=None)).enrich(lead("http://old-bakery.com/"))
    assert result.data["emails"][0]["address"] == "info@old-bakery.com"
    assert all(seen.via_proxy for seen in sites.seen)


async def test_one_request_at_a_time_per_host_with_a_delay(sites) -> None:
    enricher = WebsiteEnricher(options(sites, host_delay=0.15))
    await asyncio.gather(*(enricher.enrich(lead("http://acme-dental.com/")) for _ in range(2)))
    times = [seen.at for seen in sites.requests_to("acme-dental.com")]
    assert len(times) >= 8
    assert all(later - earlier >= 0.14 for earlier, later in pairwise(times))


def test_a_proxy_with_a_password_is_refused_in_the_config() -> None:
    from outreach.kernel import ConfigError

    with pytest.raises(ConfigError, match="HTTPS_PROXY"):
        WebsiteOptions(proxy="http://ann:secret@proxy.local:3128")


TEAM_LD = """{"@context": "https://schema.org", "@type": "Dentist", "name": "Molar & Co",
 "employee": [{"@type": "Person", "name": "Lena Park", "jobTitle": "Hygienist"},
              {"@type": "Person", "name": "Omar Reyes", "jobTitle": "Owner"}]}"""


async def test_the_team_page_names_the_people_and_robots_allows_the_longest_match() -> None:
    server = SiteServer()
    server.add(
        "molar.co.uk",
        {
            # RFC 9309: "/team" is allowed by the longer rule, though "/t" is disallowed before it.
            "/robots.txt": Reply("User-agent: *\nDisallow: /t\nAllow: /team\n", content_type="text/plain"),
            "/": html('<a href="/team">Our team</a><a href="/terms">Terms</a><p>spam@co.uk</p>'),
            "/team": html(f'<script type="application/ld+json">{TEAM_LD}</script><p>Meet us.</p>', "Team"),
            "/terms": html("<p>legal@molar.co.uk</p>"),
        },
    )
    await server.start()
    try:
        result = await WebsiteEnricher(options(server, max_pages=3)).enrich(lead("http://molar.co.uk/"))
    finally:
        await server.close()
    data = result.data
    assert [(p["name"], p["job_title"]) for p in data["people"]] == [
        ("Lena Park", "Hygienist"),
        ("Omar Reyes", "Owner"),
    ]
    assert data["people"][1]["source"] == "http://molar.co.uk/team"
    # The person to write to is the one whose title says they decide.
    assert result.lead_fields["contact_name"] == "Omar Reyes"
    assert server.requests_to("molar.co.uk", "/terms") == []
    # An address at a public suffix is nobody's own.
    (spam,) = data["emails"]
    assert (spam["address"], spam["own_domain"]) == ("spam@co.uk", False)
