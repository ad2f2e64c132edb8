"""Guessing a named person's address, confirmed by the mailbox probe against servers on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient
from local_dns import DnsServer
from probe_servers import Domain, ProbeHandler, ProbeServer

from outreach.kernel import DiscoveredBusiness, EnrichmentRecord, Lead
from outreach.plugins.email_check import EmailCheckEnricher
from outreach.plugins.email_check.options import EmailCheckOptions
from outreach.plugins.email_check.patterns import local_parts
from outreach.web import create_app

ZONES: dict[str, dict[str, list]] = {
    "smith-dental.com": {"MX": [(10, "mx.smith-dental.com")]},
    "mx.smith-dental.com": {"A": ["127.0.0.1"]},
    "anyone-welcome.com": {"MX": [(10, "mx.anyone-welcome.com")]},
    "mx.anyone-welcome.com": {"A": ["127.0.0.1"]},
    "no-guesses.com": {"MX": [(10, "mx.no-guesses.com")]},
    "mx.no-guesses.com": {"A": ["127.0.0.1"]},
}
SERVER = {
    "smith-dental.com": Domain(users=frozenset({"info", "anna.smith"})),
    "anyone-welcome.com": Domain(accept_all=True),
    "no-guesses.com": Domain(users=frozenset({"info"})),
}


@pytest.fixture
async def dns_server() -> AsyncIterator[DnsServer]:
    server = await DnsServer(ZONES).start()
    yield server
    server.close()


@pytest.fixture
async def mail_server() -> AsyncIterator[ProbeServer]:
    server = await ProbeServer(ProbeHandler(SERVER)).start()
    yield server
    await server.stop()


def enricher(dns: DnsServer, mail: ProbeServer, *, probe: bool = True) -> EmailCheckEnricher:
    options = EmailCheckOptions(
        nameserver="127.0.0.1",
        port=dns.port,
        timeout=0.5,
        smtp_probe=probe,
        probe_port=mail.port,
        probe_helo="prober.outreach.test",
        probe_from="verify@outreach.test",
        probe_timeout=1.0,
        probe_interval=0.0,
    )
    return EmailCheckEnricher(options)


def lead(
    domain: str, *, contact: str | None = "Anna Smith", emails: tuple[str, ...] = ("info",), **extra: object
) -> Lead:
    found = [{"address": f"{local}@{domain}", "own_domain": True} for local in emails]
    website = EnrichmentRecord(
        enricher="website", data={"final_url": f"https://www.{domain}/", "emails": found, **extra}
    )
    email = found[0]["address"] if found else None
    return Lead(
        id=3,
        business_name="Smith Dental",
        website_url=f"http://{domain}",
        email=email,
        contact_name=contact,
        enrichment={"website": website},
    )


def test_a_name_becomes_the_common_patterns() -> None:
    assert local_parts("Dr. Anna-Lena Müller") == [
        ("first", "anna-lena"),
        ("first.last", "anna-lena.mueller"),
        ("flast", "amueller"),
        ("firstlast", "anna-lenamueller"),
        ("first_last", "anna-lena_mueller"),
        ("f.last", "a.mueller"),
        ("last", "mueller"),
        ("first-last", "anna-lena-mueller"),
        ("lastf", "muellera"),
    ]
    assert [local for _, local in local_parts("José  García Márquez")][:3] == [
        "jose",
        "jose.marquez",
        "jmarquez",
    ]
    assert local_parts("Prof. Anna") == []
    assert local_parts("") == []


async def test_the_first_confirmed_guess_becomes_the_address(dns_server, mail_server) -> None:
    result = await enricher(dns_server, mail_server).enrich(lead("smith-dental.com"))
    assert result.lead_fields == {"email": "anna.smith@smith-dental.com"}
    data = result.data
    assert data["address"] == "anna.smith@smith-dental.com"
    assert data["guessed"] is True
    assert data["instead_of"] == "info@smith-dental.com"
    guess = data["guess"]
    assert guess["address"] == "anna.smith@smith-dental.com"
    assert guess["pattern"] == "first.last"
    assert guess["confirmed_by"] == "smtp_probe"
    assert "accepted it (250" in guess["confirmation"]
    assert "refused a random address" in guess["confirmation"]
    assert guess["name_source"] == "the lead's contact name"
    verdicts = [c.get("verdict") for c in guess["candidates"]]
    assert verdicts[:2] == ["undeliverable", "deliverable"]
    assert set(verdicts[2:]) == {None}  # not asked: the first confirmed one ends the asking
    assert data["probe"]["verdict"] == "deliverable"
    # One conversation: the guesses in order, then a random address, and no second probe.
    (talk,) = mail_server.handler.conversations
    asked = [address for address, _ in talk.rcpts]
    assert asked[:2] == ["anna@smith-dental.com", "anna.smith@smith-dental.com"]
    assert len(asked) == 3
    assert asked[2].startswith("no-such-mailbox-")
    assert talk.quit
    assert not talk.data


async def test_a_catch_all_domain_confirms_nothing(dns_server, mail_server) -> None:
    result = await enricher(dns_server, mail_server).enrich(lead("anyone-welcome.com"))
    assert result.lead_fields == {}
    assert result.data["address"] == "info@anyone-welcome.com"
    assert "guessed" not in result.data
    guess = result.data["guess"]
    assert guess["address"] is None
    assert guess["confirmed_by"] is None
    assert "accepts any address" in guess["outcome"]
    assert guess["candidates"][0]["verdict"] == "catch_all"
    assert result.data["probe"]["verdict"] == "catch_all"


async def test_when_every_guess_is_refused_the_sites_address_stays(dns_server, mail_server) -> None:
    result = await enricher(dns_server, mail_server).enrich(lead("no-guesses.com"))
    assert result.lead_fields == {}
    guess = result.data["guess"]
    assert "refused every guess" in guess["outcome"]
    assert {c["verdict"] for c in guess["candidates"]} == {"undeliverable"}
    assert len(guess["candidates"]) == 8  # guess_limit
    assert result.data["probe"]["verdict"] == "deliverable"  # info@ itself


async def test_without_the_probe_guesses_are_listed_but_never_used(dns_server, mail_server) -> None:
    result = await enricher(dns_server, mail_server, probe=False).enrich(lead("smith-dental.com"))
    assert result.lead_fields == {}
    guess = result.data["guess"]
    assert guess["address"] is None
    assert "probe is off" in guess["outcome"]
    assert guess["candidates"][1] == {"address": "anna.smith@smith-dental.com", "pattern": "first.last"}
    assert mail_server.handler.conversations == []


async def test_no_guessing_when_a_personal_address_or_a_name_is_missing(dns_server, mail_server) -> None:
    check = enricher(dns_server, mail_server)
    personal = await check.enrich(lead("smith-dental.com", emails=("info", "bob")))
    assert "guess" not in personal.data
    nameless = await check.enrich(lead("smith-dental.com", contact=None))
    assert "guess" not in nameless.data
    assert mail_server.handler.asked().count("anna@smith-dental.com") == 0


async def test_a_lead_without_any_address_gets_the_confirmed_guess(dns_server, mail_server) -> None:
    bare = lead(
        "smith-dental.com", contact=None, emails=(), people=[{"name": "Anna Smith", "source": "team page"}]
    )
    result = await enricher(dns_server, mail_server).enrich(bare)
    assert result.lead_fields == {"email": "anna.smith@smith-dental.com"}
    assert result.data["guess"]["name_source"] == "team page"
    assert "instead_of" not in result.data


async def test_the_lead_panel_marks_a_guess_and_how_it_was_confirmed(
    runtime, dns_server, mail_server
) -> None:
    found = await enricher(dns_server, mail_server).enrich(lead("smith-dental.com"))
    stored, _ = await runtime.leads.upsert_discovered(
        DiscoveredBusiness(business_name="Smith Dental", website_url="http://smith-dental.com"), "test"
    )
    record = EnrichmentRecord(enricher="email_check", data=found.data, confidence=found.confidence)
    await runtime.leads.record_enrichment(stored.id, [record], found.lead_fields, actor="system:analysis")
    async with AsyncTestClient(app=create_app(runtime)) as client:
        page = await client.get(f"/leads/{stored.id}/enrichment", headers={"HX-Request": "true"})
    assert page.status_code == 200
    text = page.text
    assert "Guessed addresses for Anna Smith" in text
    assert 'anna.smith@smith-dental.com <span class="mark mark-guessed">guessed</span>' in text
    assert "confirmed by the mailbox probe" in text
    assert "pattern first.last" in text
    assert "Mailbox probe:" in text
    assert "deliverable" in text
