"""The mailbox probe against mail servers on loopback (aiosmtpd), found through a DNS server on loopback."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from local_dns import DnsServer
from probe_servers import Domain, ProbeHandler, ProbeServer, SilentServer, closed_port

from outreach.kernel import ConfigError, DiscoveredBusiness, EnrichmentRecord, Lead
from outreach.kernel.plugins import build_plugin_host
from outreach.kernel.services.audit import trail
from outreach.kernel.store.tables import LeadRow
from outreach.plugins.email_check import EmailCheckEnricher
from outreach.plugins.email_check.options import EmailCheckOptions
from outreach.plugins.email_check.probe import MailboxProbe
from outreach.plugins.email_check.replies import judge_rcpt
from outreach.plugins.scoring import INVALID_CAP, Scorer, ScoringOptions
from outreach.web import create_app

HELO = "prober.outreach.test"
SENDER = "verify@outreach.test"
DOMAINS = ("known-mail.com", "catchall-mail.com", "grey-mail.com", "blocked-mail.com", "drop-mail.com")


def _zones() -> dict[str, dict[str, list]]:
    zones: dict[str, dict[str, list]] = {}
    for domain in DOMAINS:
        # A second, worse MX on a documentation address: the probe must only ever ask the best one.
        zones[domain] = {"MX": [(20, f"backup.{domain}"), (10, f"mx.{domain}")]}
        zones[f"mx.{domain}"] = {"A": ["127.0.0.1"]}
        zones[f"backup.{domain}"] = {"A": ["192.0.2.25"]}
    zones["ghost-mail.com"] = {"MX": [(10, "mx.ghost-mail.com")]}  # the MX host has no address
    return zones


SERVER_DOMAINS = {
    "known-mail.com": Domain(users=frozenset({"anna", "info"})),
    "catchall-mail.com": Domain(accept_all=True),
    "grey-mail.com": Domain(greylist=True),
    "blocked-mail.com": Domain(block=True),
    "drop-mail.com": Domain(drop=True),
}


@pytest.fixture
async def dns_server() -> AsyncIterator[DnsServer]:
    server = await DnsServer(_zones()).start()
    yield server
    server.close()


@pytest.fixture
async def mail_server() -> AsyncIterator[ProbeServer]:
    server = await ProbeServer(ProbeHandler(SERVER_DOMAINS)).start()
    yield server
    await server.stop()


def options(dns: DnsServer, port: int, **overrides: object) -> EmailCheckOptions:
    values: dict[str, object] = {
        "nameserver": "127.0.0.1",
        "port": dns.port,
        "timeout": 0.5,
        "smtp_probe": True,
        "probe_port": port,
        "probe_helo": HELO,
        "probe_from": SENDER,
        "probe_timeout": 1.0,
        "probe_interval": 0.0,
    }
    values.update(overrides)
    return EmailCheckOptions(**values)  # type: ignore[arg-type]


def enricher(dns: DnsServer, port: int, **overrides: object) -> EmailCheckEnricher:
    return EmailCheckEnricher(options(dns, port, **overrides))


def lead(email: str | None, **fields: object) -> Lead:
    return Lead(id=7, business_name="Test", email=email, **fields)  # type: ignore[arg-type]


async def test_the_four_verdicts_and_the_conversation_behind_them(dns_server, mail_server) -> None:
    check = enricher(dns_server, mail_server.port)
    results = {
        address: (await check.enrich(lead(address))).data["probe"]
        for address in (
            "anna@known-mail.com",
            "nobody@known-mail.com",
            "whoever@catchall-mail.com",
            "x@grey-mail.com",
            "x@blocked-mail.com",
            "x@drop-mail.com",
        )
    }
    assert results["anna@known-mail.com"]["verdict"] == "deliverable"
    assert results["anna@known-mail.com"]["code"] == 250
    assert "refused a random address" in results["anna@known-mail.com"]["reason"]
    assert results["nobody@known-mail.com"]["verdict"] == "undeliverable"
    assert results["nobody@known-mail.com"]["code"] == 550
    assert results["whoever@catchall-mail.com"]["verdict"] == "catch_all"
    unknown = {a: (r["verdict"], r["cause"]) for a, r in results.items() if r["verdict"] == "unknown"}
    assert unknown == {
        "x@grey-mail.com": ("unknown", "greylisted"),
        "x@blocked-mail.com": ("unknown", "blocked"),
        "x@drop-mail.com": ("unknown", "disconnected"),
    }
    assert "greylisting" in results["x@grey-mail.com"]["reason"]
    assert "451" in results["x@grey-mail.com"]["reason"]

    talks = mail_server.handler.conversations
    assert len(talks) == 6
    assert all(t.helo == HELO and t.mail_from == SENDER for t in talks)
    assert not any(t.data for t in talks)
    # Every conversation that was not cut off by the server ended with QUIT.
    assert [t.quit for t in talks] == [True, True, True, True, True, False]
    deliverable, catch_all = talks[0], talks[2]
    assert deliverable.rcpts[0] == ("anna@known-mail.com", "250 2.1.5 OK")
    assert len(deliverable.rcpts) == 2
    assert deliverable.rcpts[1][1].startswith("550")
    assert catch_all.rcpts[1][0].endswith("@catchall-mail.com")
    assert catch_all.rcpts[1][1].startswith("250")
    # Refusals are not followed by a random address: nothing was accepted.
    assert len(talks[1].rcpts) == 1


async def test_undeliverable_caps_the_score_and_holds_the_lead(dns_server, mail_server) -> None:
    check = enricher(dns_server, mail_server.port)
    refused = await check.enrich(lead("nobody@known-mail.com"))
    hold = refused.data["outreach_hold"]
    assert hold["email"] == "nobody@known-mail.com"
    assert "no such mailbox" in hold["reason"]
    accepted = await check.enrich(lead("anna@known-mail.com"))
    assert "outreach_hold" not in accepted.data

    scorer = Scorer(ScoringOptions())

    async def score(data: dict, email: str) -> dict:
        record = EnrichmentRecord(enricher="email_check", data=data)
        scored = lead(email, rating=5.0, review_count=500, enrichment={"email_check": record})
        return (await scorer.enrich(scored)).data

    good, bad = (
        await score(accepted.data, "anna@known-mail.com"),
        await score(refused.data, "nobody@known-mail.com"),
    )
    assert good["signals"]["mx"] == 1.0
    assert bad["signals"]["mx"] == 0.0
    assert bad["capped"] is True
    assert bad["score"] == INVALID_CAP < good["score"]
    catch_all = await check.enrich(lead("whoever@catchall-mail.com"))
    assert (await score(catch_all.data, "whoever@catchall-mail.com"))["signals"]["mx"] == 0.7
    # An unknown probe leaves the DNS verdict standing.
    grey = await check.enrich(lead("x@grey-mail.com"))
    assert (await score(grey.data, "x@grey-mail.com"))["signals"]["mx"] == 1.0


async def test_timeouts_unreachable_ports_and_missing_addresses_say_which(dns_server) -> None:
    silent = await SilentServer().start()
    try:
        slow = await enricher(dns_server, silent.port, probe_timeout=0.3).enrich(lead("anna@known-mail.com"))
    finally:
        await silent.stop()
    assert (slow.data["probe"]["verdict"], slow.data["probe"]["cause"]) == ("unknown", "timeout")
    assert silent.connections == 1

    unreachable = enricher(dns_server, closed_port())
    refused = await unreachable.enrich(lead("anna@known-mail.com"))
    probe = refused.data["probe"]
    assert (probe["verdict"], probe["cause"], probe["cached"]) == ("unknown", "unreachable", False)
    assert "port 25" in probe["reason"]
    # A server that could not be reached is not tried again for a while.
    again = (await unreachable.enrich(lead("info@known-mail.com"))).data["probe"]
    assert (again["cause"], again["cached"]) == ("unreachable", True)
    assert "an earlier probe" in again["reason"]

    ghost = await enricher(dns_server, closed_port()).enrich(lead("anna@ghost-mail.com"))
    assert ghost.data["probe"]["cause"] == "unreachable"
    assert "no address in DNS" in ghost.data["probe"]["reason"]
    # Neither is a reason to hold the lead: the mailbox was never judged.
    assert "outreach_hold" not in refused.data
    assert "outreach_hold" not in ghost.data


async def test_a_blocked_port_25_rests_the_probe_after_a_few_servers(dns_server) -> None:
    check = enricher(dns_server, closed_port(), probe_blocked_after=2)
    first = await check.enrich(lead("a@known-mail.com"))
    second = await check.enrich(lead("a@catchall-mail.com"))
    third = await check.enrich(lead("a@grey-mail.com"))
    assert [r.data["probe"]["cause"] for r in (first, second, third)] == [
        "unreachable",
        "unreachable",
        "port_blocked",
    ]
    assert "block outbound port 25" in third.data["probe"]["reason"]


async def test_verdicts_are_cached_and_each_domain_is_asked_politely(dns_server, mail_server) -> None:
    interval = 0.4
    check = enricher(dns_server, mail_server.port, probe_interval=interval)
    first = await check.enrich(lead("anna@known-mail.com"))
    again = await check.enrich(lead("anna@known-mail.com"))
    assert again.data["probe"]["verdict"] == "deliverable"
    assert again.data["probe"]["cached"] is True
    assert first.data["probe"]["cached"] is False
    assert len(mail_server.handler.conversations) == 1

    # Two leads on one domain at once: one conversation at a time, the interval between them.
    await asyncio.gather(check.enrich(lead("info@known-mail.com")), check.enrich(lead("bob@known-mail.com")))
    starts = [t.started for t in mail_server.handler.conversations]
    assert len(starts) == 3
    assert starts[1] - starts[0] >= interval * 0.9
    assert starts[2] - starts[1] >= interval * 0.9
    # Another domain does not wait for this one's interval.
    began = time.monotonic()
    await check.enrich(lead("x@catchall-mail.com"))
    assert time.monotonic() - began < interval

    # A catch-all domain is remembered: its next address needs no conversation at all.
    talks = len(mail_server.handler.conversations)
    later = await check.enrich(lead("someone-else@catchall-mail.com"))
    assert later.data["probe"]["verdict"] == "catch_all"
    assert len(mail_server.handler.conversations) == talks


async def test_unknown_verdicts_are_asked_again(dns_server, mail_server) -> None:
    probe = MailboxProbe(options(dns_server, mail_server.port), enricher(dns_server, 1).mx)
    await probe.probe("x@grey-mail.com")
    await probe.probe("x@grey-mail.com")
    assert mail_server.handler.asked() == ["x@grey-mail.com", "x@grey-mail.com"]


async def test_the_probe_is_off_unless_asked_for(dns_server, mail_server) -> None:
    check = enricher(dns_server, mail_server.port, smtp_probe=False)
    result = await check.enrich(lead("nobody@known-mail.com"))
    assert result.data["verdict"] == "valid"
    assert "probe" not in result.data
    assert "outreach_hold" not in result.data
    assert mail_server.handler.conversations == []


def test_the_probe_is_configured_from_the_plugin_table(make_settings) -> None:
    with pytest.raises((ConfigError, msgspec.ValidationError), match="probe_helo"):
        EmailCheckOptions(smtp_probe=True, probe_from=SENDER)
    missing = make_settings(plugins={"email_check": {"smtp_probe": True, "probe_from": SENDER}})
    # A plugin whose table does not decode is left out, saying why.
    failed = build_plugin_host(missing, load_entry_points=False)
    assert "email_check" not in failed.enrichers
    assert any("probe_helo" in f.error for f in failed.failures)
    table = {"smtp_probe": True, "probe_helo": HELO, "probe_from": SENDER, "probe_port": 2525}
    host = build_plugin_host(make_settings(plugins={"email_check": table}), load_entry_points=False)
    probe = host.enrichers.get("email_check").probe
    assert probe is not None
    assert (probe.options.probe_port, probe.session.helo, probe.session.sender) == (2525, HELO, SENDER)


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (250, "2.1.5 OK", ("deliverable", None)),
        (251, "User not local; will forward", ("deliverable", None)),
        (550, "5.1.1 User unknown", ("undeliverable", None)),
        (551, "User not local", ("undeliverable", None)),
        (553, "mailbox name not allowed", ("unknown", "blocked")),
        (553, "5.1.3 Bad recipient address syntax", ("undeliverable", None)),
        (550, "No such user here", ("undeliverable", None)),
        (550, "5.7.1 Client host rejected: blocked", ("unknown", "blocked")),
        (550, "Mail from your IP is listed at a DNSBL", ("unknown", "blocked")),
        (554, "5.7.1 Relay access denied", ("unknown", "blocked")),
        (450, "4.2.0 Greylisted", ("unknown", "greylisted")),
        (421, "4.7.0 Too many connections", ("unknown", "greylisted")),
        (354, "odd", ("unknown", "unexpected_reply")),
    ],
)
def test_rcpt_replies_are_read_by_code_and_status(code: int, message: str, expected: tuple) -> None:
    assert judge_rcpt(code, message) == expected


async def test_an_undeliverable_lead_waits_for_a_person(runtime) -> None:
    held, clear = [
        (await runtime.leads.upsert_discovered(DiscoveredBusiness(business_name=n, email=e), "test"))[0]
        for n, e in (("Held", "nobody@known-mail.com"), ("Clear", "anna@known-mail.com"))
    ]
    hold = {"email": "nobody@known-mail.com", "reason": "the mailbox probe found no such mailbox: 550"}
    for target, data in ((held, {"verdict": "valid", "outreach_hold": hold}), (clear, {"verdict": "valid"})):
        record = EnrichmentRecord(enricher="email_check", data=data)
        await runtime.leads.record_enrichment(target.id, [record], {}, actor="system:analysis")
    await LeadRow.update({LeadRow.lifecycle_state: "approved"}).where(LeadRow.id.is_in([held.id, clear.id]))

    result = await runtime.enrollment.mark_ready(None, actor="system:test")
    assert result.changed == [clear.id]
    assert "no such mailbox" in result.skipped[held.id]
    assert f"outreach leads set-state {held.id} ready_for_outreach" in result.skipped[held.id]
    assert (await runtime.leads.get(held.id)).lifecycle_state == "approved"

    # A person who knows better moves it through the manual transition, audited as theirs.
    moved = await runtime.leads.transition(held.id, "ready_for_outreach", actor="cli", reason="called them")
    assert moved.lifecycle_state == "ready_for_outreach"
    entries = await trail("lead", held.id)
    assert any(e.action == "transition:approved->ready_for_outreach" and e.actor == "cli" for e in entries)


async def test_a_hold_on_an_old_address_does_not_hold_a_corrected_lead(runtime) -> None:
    found, _ = await runtime.leads.upsert_discovered(
        DiscoveredBusiness(business_name="Fixed", email="anna@known-mail.com"), "test"
    )
    hold = {"email": "nobody@known-mail.com", "reason": "the mailbox probe found no such mailbox"}
    record = EnrichmentRecord(enricher="email_check", data={"outreach_hold": hold})
    await runtime.leads.record_enrichment(found.id, [record], {}, actor="system:analysis")
    await LeadRow.update({LeadRow.lifecycle_state: "approved"}).where(LeadRow.id == found.id)
    assert (await runtime.enrollment.mark_ready([found.id], actor="web")).changed == [found.id]


async def test_a_person_makes_a_held_lead_ready_anyway_from_its_panel(runtime) -> None:
    held, _ = await runtime.leads.upsert_discovered(
        DiscoveredBusiness(business_name="Held Co", email="nobody@known-mail.com"), "test"
    )
    hold = {"email": "nobody@known-mail.com", "reason": "the mailbox probe found no such mailbox: 550"}
    record = EnrichmentRecord(enricher="email_check", data={"verdict": "valid", "outreach_hold": hold})
    await runtime.leads.record_enrichment(held.id, [record], {}, actor="system:analysis")
    await LeadRow.update({LeadRow.lifecycle_state: "approved"}).where(LeadRow.id == held.id)
    async with AsyncTestClient(app=create_app(runtime)) as client:
        page = await client.get("/leads")
        token = re.search(r'"x-csrftoken": "([^"]+)"', page.text).group(1)
        headers = {"HX-Request": "true", "x-csrftoken": token}
        panel = await client.get(f"/leads/{held.id}/enrichment", headers={"HX-Request": "true"})
        assert f'hx-post="/leads/{held.id}/ready-anyway"' in panel.text
        # The ordinary button says why not, and moves nothing.
        refused = await client.post(f"/leads/{held.id}/ready", headers=headers)
        assert "no such mailbox" in refused.text
        assert (await runtime.leads.get(held.id)).lifecycle_state == "approved"
        row = await client.post(f"/leads/{held.id}/ready-anyway", headers=headers)
    assert row.status_code == 200
    assert 'data-state="ready_for_outreach"' in row.text
    (entry,) = [
        e for e in await trail("lead", held.id) if e.action == "transition:approved->ready_for_outreach"
    ]
    assert entry.actor == "web"
    assert "made ready despite a hold: the mailbox probe found no such mailbox" in entry.new_value["reason"]
