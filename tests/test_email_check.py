"""The email_check enricher against a real DNS server on loopback (dnslib), pointed at by config."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from local_dns import DnsServer

from outreach.kernel import EnrichmentRecord, Lead
from outreach.kernel.plugins import build_plugin_host
from outreach.plugins.email_check import EmailCheckEnricher
from outreach.plugins.email_check.options import EmailCheckOptions

ZONES = {
    "acme-dental.com": {"MX": [(20, "mx2.acme-dental.com"), (10, "mx1.acme-dental.com")]},
    "bakery.de": {"MX": [(10, "mail.bakery.de")]},
    "nomail.com": {"MX": [(0, ".")]},
    "fallback.com": {"A": ["192.0.2.10"]},
    "parked.com": {},
    "mailinator.com": {"MX": [(10, "mail.mailinator.com")]},
}


@pytest.fixture
async def dns_server() -> AsyncIterator[DnsServer]:
    server = await DnsServer(ZONES, silent=frozenset({"sleepy.com"})).start()
    yield server
    server.close()


def enricher(server: DnsServer, **overrides: object) -> EmailCheckEnricher:
    values: dict[str, object] = {"nameserver": "127.0.0.1", "port": server.port, "timeout": 0.5}
    values.update(overrides)
    return EmailCheckEnricher(EmailCheckOptions(**values))  # type: ignore[arg-type]


def lead(email: str | None, **fields: object) -> Lead:
    return Lead(id=7, business_name="Test", email=email, **fields)  # type: ignore[arg-type]


async def verdict(server: DnsServer, email: str) -> dict:
    return (await enricher(server).enrich(lead(email))).data


async def test_verdicts_with_reasons(dns_server) -> None:
    valid = await verdict(dns_server, "dr.smith@acme-dental.com")
    assert valid["verdict"] == "valid"
    assert valid["mx_hosts"] == ["mx1.acme-dental.com", "mx2.acme-dental.com"]
    assert valid["reasons"] == []
    assert valid["role"] is False

    role = await verdict(dns_server, "Info@Bakery.de")
    assert role["verdict"] == "valid"
    assert role["role"] is True
    assert any("role address" in reason for reason in role["reasons"])

    cases = {
        "x@nowhere-at-all.com": ("invalid", "does not exist"),
        "x@nomail.com": ("invalid", "null MX"),
        "x@parked.com": ("invalid", "no mail server"),
        "x@fallback.com": ("risky", "no MX record"),
        "x@mailinator.com": ("risky", "disposable"),
        "x@sleepy.com": ("risky", "could not be looked up"),
        "not an address": ("invalid", "not a valid address"),
        "x@localhost": ("invalid", "not a valid address"),
    }
    for address, (expected, reason) in cases.items():
        data = await verdict(dns_server, address)
        assert data["verdict"] == expected, address
        assert any(reason in r for r in data["reasons"]), (address, data["reasons"])


async def test_answers_are_cached_and_shared(dns_server) -> None:
    check = enricher(dns_server)
    await asyncio.gather(*(check.enrich(lead(f"p{i}@acme-dental.com")) for i in range(5)))
    await check.enrich(lead("info@acme-dental.com"))
    assert dns_server.queries.count(("acme-dental.com", "MX")) == 1
    # Failures are not cached: the next lead asks again.
    await check.enrich(lead("a@sleepy.com"))
    await check.enrich(lead("b@sleepy.com"))
    assert dns_server.queries.count(("sleepy.com", "MX")) >= 2


async def test_an_invalid_address_gives_way_to_the_sites_next_best(dns_server) -> None:
    website = EnrichmentRecord(
        enricher="website",
        data={
            "emails": [
                {"address": "old@nowhere-at-all.com"},
                {"address": "team@fallback.com"},
                {"address": "hello@bakery.de"},
            ]
        },
    )
    result = await enricher(dns_server).enrich(
        lead("old@nowhere-at-all.com", enrichment={"website": website})
    )
    assert result.lead_fields == {"email": "hello@bakery.de"}
    assert result.data["verdict"] == "valid"
    assert result.data["replaced"]["address"] == "old@nowhere-at-all.com"
    assert result.data["replaced"]["verdict"] == "invalid"


async def test_no_address_is_a_finding(dns_server) -> None:
    result = await enricher(dns_server).enrich(lead(None))
    assert result.data["verdict"] is None
    assert result.confidence is None
    assert dns_server.queries == []


def test_the_nameserver_comes_from_the_config(make_settings, dns_server) -> None:
    settings = make_settings(plugins={"email_check": {"nameserver": "127.0.0.1", "port": dns_server.port}})
    host = build_plugin_host(settings, load_entry_points=False)
    check = host.enrichers.get("email_check")
    assert check.mx.source == f"dns:127.0.0.1:{dns_server.port}"
