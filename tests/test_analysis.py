"""The analysis pipeline: leads through the job to review, errors, failures, concurrency, resuming."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from local_dns import DnsServer
from local_sites import SiteServer, html

from outreach.kernel import DiscoveredBusiness, Enrichment, OutreachError, hookimpl
from outreach.kernel.errors import NotFound, PluginError
from outreach.kernel.services import audit
from outreach.kernel.services.analysis import NOTHING_TO_CONTACT, submit_analysis
from outreach.kernel.services.jobs import process_owner
from outreach.kernel.services.leads import LeadQuery
from outreach.kernel.store.tables import AuditRow, JobRow, LeadRow

# Analysis stores its outcomes a batch at a time: on SQLite and on PostgreSQL alike.
pytestmark = pytest.mark.both_engines

BUILTIN_ENRICHERS = ["website", "email_check", "scoring"]


class Enrichers:
    """A throwaway plugin that registers the enrichers it is given."""

    def __init__(self, *enrichers: Any) -> None:
        self.enrichers = enrichers

    @hookimpl
    def register_enrichers(self, register) -> None:
        for enricher in self.enrichers:
            register(enricher)


class Fixed:
    """An enricher that returns the same thing for every lead."""

    def __init__(self, name: str, order: int, data: dict[str, Any] | None = None, **fields: Any) -> None:
        self.name, self.order, self.data, self.fields = name, order, data or {"ok": True}, fields
        self.seen: list[Any] = []

    async def enrich(self, lead):
        self.seen.append(lead)
        return Enrichment(data=self.data, lead_fields=self.fields, confidence=0.5, source="test")


class Broken:
    name, order = "broken", 20

    async def enrich(self, lead):
        raise RuntimeError("the parser fell over")


class Slow:
    name, order = "slow", 30

    async def enrich(self, lead):
        await asyncio.sleep(30)


class Counting:
    """Remembers how many leads it was working on at once."""

    name, order = "counting", 10

    def __init__(self) -> None:
        self.now = self.most = 0

    async def enrich(self, lead):
        self.now += 1
        self.most = max(self.most, self.now)
        await asyncio.sleep(0.05)
        self.now -= 1
        return Enrichment(data={"n": self.now})


async def discover(rt, *names: str, **fields: Any) -> list[int]:
    """Discovered leads; each has a website unless told otherwise (one with nothing to contact fails)."""
    ids = []
    for name in names:
        values = {"website_url": f"https://{name.lower().replace(' ', '-')}.example", **fields}
        lead, _ = await rt.leads.upsert_discovered(DiscoveredBusiness(business_name=name, **values), "test")
        ids.append(lead.id)
    return ids


async def analyze(rt, ids: list[int] | None = None):
    job = await submit_analysis(rt, ids, all=ids is None, actor="test")
    return await rt.runner.run_now(job.id)


@pytest.fixture
def isolated(make_settings):
    """Settings without the built-in enrichers, for pipeline tests with enrichers of their own."""

    def make(**raw: Any):
        return make_settings(disabled=BUILTIN_ENRICHERS, **raw)

    return make


# -- the real enrichers, end to end -------------------------------------------------------------


@pytest.fixture
async def world() -> AsyncIterator[tuple[SiteServer, DnsServer]]:
    sites = SiteServer()
    sites.add(
        "acme-dental.com",
        {
            "/": html('<a href="/kontakt">Kontakt</a><p>Call 030 1234567</p>', "Acme Dental Berlin"),
            "/kontakt": html('<a href="mailto:praxis@acme-dental.com">Mail</a> or jane@gmail.com'),
        },
    )
    sites.add("dead-deli.com", {"/": html("<p>nobody@nowhere-at-all.com</p>")})
    dns = DnsServer({"acme-dental.com": {"MX": [(10, "mx.acme-dental.com")]}})
    await sites.start()
    await dns.start()
    yield sites, dns
    dns.close()
    await sites.close()


async def test_discovered_leads_reach_review_with_their_enrichment(
    make_settings, make_runtime, world
) -> None:
    sites, dns = world
    settings = make_settings(
        plugins={
            "website": {"proxy": sites.proxy, "host_delay": 0, "timeout": 2},
            "email_check": {"nameserver": "127.0.0.1", "port": dns.port, "timeout": 0.5},
        }
    )
    rt = await make_runtime(settings, load_entry_points=False)
    events: list[tuple[int, str, str, str]] = []

    class Listener:
        @hookimpl
        def lead_transitioned(self, lead, old_state, new_state, actor) -> None:
            events.append((lead.id, old_state, new_state, actor))

    rt.plugins.pm.register(Listener(), name="listener")
    acme, deli = await discover(rt, "Acme Dental", "Dead Deli")
    (bare,) = await discover(rt, "No Site", website_url=None)
    await rt.leads.update_fields(
        acme, {"website_url": "http://acme-dental.com/", "country_code": "DE"}, actor="t"
    )
    await rt.leads.update_fields(deli, {"website_url": "http://dead-deli.com/"}, actor="t")

    job = await analyze(rt)
    assert job.state == "succeeded"
    # "No Site" has neither an address nor a website: nothing to write to, so it fails, saying so.
    assert job.result == {"analyzed": 2, "failed": 1, "skipped": 0, "enricher_errors": 0}
    assert job.progress_done == job.progress_total == 3

    lead = await rt.leads.get(acme)
    assert lead.lifecycle_state == "pending_review"
    assert lead.email == "praxis@acme-dental.com"
    assert lead.phone == "+49 30 1234567"
    assert set(lead.enrichment) == {"website", "email_check", "score"}
    assert lead.enrichment["website"].source == "http://acme-dental.com/"
    assert lead.enrichment["website"].at is not None
    assert lead.enrichment["email_check"].data["verdict"] == "valid"
    assert lead.enrichment["score"].data["signals"]["email"] == 1.0
    assert lead.score == pytest.approx(0.7)

    deli_lead = await rt.leads.get(deli)
    assert deli_lead.email == "nobody@nowhere-at-all.com"
    assert deli_lead.enrichment["email_check"].data["verdict"] == "invalid"
    assert deli_lead.score <= 0.2
    bare_lead = await rt.leads.get(bare)
    assert bare_lead.lifecycle_state == "failed"
    assert bare_lead.failure_reason == NOTHING_TO_CONTACT
    assert bare_lead.enrichment["website"].data["error"] == "no website"
    assert bare_lead.score == 0.0

    # Sortable by score.
    page = await rt.leads.list(LeadQuery(sort="score", descending=True))
    assert [item.id for item in page.items] == [acme, deli, bare]

    # Each change audited with its actor; the events fired after commit.
    trail = [(entry.action, entry.actor) for entry in await audit.trail("lead", acme)]
    assert ("transition:discovered->analyzing", "system:analysis") in trail
    assert ("enriched", "system:analysis") in trail
    assert trail[-2:] == [
        ("transition:analyzing->analyzed", "system:analysis"),
        ("transition:analyzed->pending_review", "system:analysis"),
    ]
    assert (acme, "analyzed", "pending_review", "system:analysis") in events

    # Personal data found on the site is sealed in the store and redacted in the audit log.
    raw = await LeadRow.raw("SELECT email, phone, enrichment FROM leads WHERE id = {}", acme)
    stored = str(raw[0])
    assert "praxis@acme-dental.com" not in stored
    assert "1234567" not in stored
    assert "acme-dental" not in str(raw[0]["email"])
    audit_text = str(await AuditRow.select().where(AuditRow.entity_id == acme))
    assert "praxis@acme-dental.com" not in audit_text


# -- the pipeline with enrichers of the test's own ----------------------------------------------


async def test_later_enrichers_see_what_earlier_ones_learned(isolated, make_runtime) -> None:
    first = Fixed("first", 1, {"found": "x"}, email="owner@bakery.de", score=0.4)
    second = Fixed("second", 2)
    rt = await make_runtime(
        isolated(), load_entry_points=False, extra_plugins=[("e", Enrichers(second, first))]
    )
    (lead_id,) = await discover(rt, "Bakery")
    await analyze(rt, [lead_id])
    seen = second.seen[0]
    assert seen.email == "owner@bakery.de"
    assert seen.enrichment["first"].data == {"found": "x"}
    lead = await rt.leads.get(lead_id)
    assert lead.email == "owner@bakery.de"
    assert lead.score == 0.4
    assert lead.enrichment["first"].confidence == 0.5


async def test_an_enricher_that_raises_is_recorded_and_the_rest_still_run(isolated, make_runtime) -> None:
    after = Fixed("after", 90)
    rt = await make_runtime(
        isolated(),
        load_entry_points=False,
        extra_plugins=[("e", Enrichers(Fixed("before", 1), Broken(), after))],
    )
    with_email, without = await discover(rt, "Has Address", "No Address")
    await rt.leads.update_fields(with_email, {"email": "hi@has-address.com"}, actor="t")
    job = await analyze(rt)
    assert job.counters["enricher_errors"] == 2
    assert len(after.seen) == 2

    partial = await rt.leads.get(with_email)
    assert partial.lifecycle_state == "pending_review"
    assert partial.enrichment["broken"].data == {"error": "RuntimeError: the parser fell over"}
    assert partial.enrichment["broken"].confidence == 0.0
    assert partial.enrichment["after"].data == {"ok": True}

    failed = await rt.leads.get(without)
    assert failed.lifecycle_state == "failed"
    assert "no email address was found" in failed.failure_reason
    assert "broken: RuntimeError: the parser fell over" in failed.failure_reason
    assert failed.enrichment["after"].data == {"ok": True}  # what was learned is kept
    assert job.result["failed"] == 1
    assert any("broken failed on lead" in line["message"] for line in job.report)

    # A person retries it; the next analysis takes it again.
    await rt.leads.transition(without, "discovered", actor="test")
    assert (await analyze(rt, [without])).counters["failed"] == 1


async def test_a_lead_fails_when_every_enricher_fails(isolated, make_runtime) -> None:
    rt = await make_runtime(isolated(), load_entry_points=False, extra_plugins=[("e", Enrichers(Broken()))])
    (lead_id,) = await discover(rt, "Doomed")
    await rt.leads.update_fields(lead_id, {"email": "x@doomed.com"}, actor="t")
    await analyze(rt)
    lead = await rt.leads.get(lead_id)
    assert lead.lifecycle_state == "failed"
    assert lead.failure_reason.startswith("every enricher failed")


async def test_a_slow_enricher_times_out(isolated, make_runtime) -> None:
    rt = await make_runtime(
        isolated(analysis={"enricher_timeout": 0.2}),
        load_entry_points=False,
        extra_plugins=[("e", Enrichers(Slow(), Fixed("quick", 1, email="a@b.com")))],
    )
    (lead_id,) = await discover(rt, "Sleepy")
    await analyze(rt)
    lead = await rt.leads.get(lead_id)
    assert lead.lifecycle_state == "pending_review"
    assert lead.enrichment["slow"].data["error"] == "took longer than 0.2 s"


async def test_fields_an_enricher_may_not_set_are_ignored_and_reported(isolated, make_runtime) -> None:
    rogue = Fixed(
        "rogue", 1, lifecycle_state="approved", score=7, email="not-an-address", phone="+1 512 555 0100"
    )
    rt = await make_runtime(isolated(), load_entry_points=False, extra_plugins=[("e", Enrichers(rogue))])
    (lead_id,) = await discover(rt, "Rogue")
    job = await analyze(rt)
    lead = await rt.leads.get(lead_id)
    assert lead.phone == "+1 512 555 0100"
    assert lead.score is None
    assert lead.email is None
    messages = " ".join(line["message"] for line in job.report)
    assert "'lifecycle_state'" in messages
    assert "score outside 0..1" in messages
    assert "without '@'" in messages


async def test_concurrency_is_bounded_by_the_config(isolated, make_runtime) -> None:
    counting = Counting()
    rt = await make_runtime(
        isolated(analysis={"concurrency": 3}),
        load_entry_points=False,
        extra_plugins=[("e", Enrichers(counting))],
    )
    await discover(rt, *(f"Shop {i}" for i in range(12)))
    job = await analyze(rt)
    assert job.counters["analyzed"] == 12
    assert counting.most == 3


async def test_named_leads_that_cannot_be_analyzed_are_reported(isolated, make_runtime) -> None:
    rt = await make_runtime(
        isolated(), load_entry_points=False, extra_plugins=[("e", Enrichers(Fixed("f", 1)))]
    )
    fresh, done = await discover(rt, "Fresh", "Done")
    await rt.leads.transition(done, "failed", actor="test", changes={"failure_reason": "x"})
    job = await analyze(rt, [fresh, done])
    assert job.counters["skipped"] == 1
    assert "set-state ID discovered" in job.report[0]["message"]
    assert (await rt.leads.get(fresh)).lifecycle_state == "pending_review"
    with pytest.raises(NotFound, match="no lead with id 999"):
        await submit_analysis(rt, [fresh, 999], actor="test")
    with pytest.raises(OutreachError, match="--all"):
        await submit_analysis(rt, [], actor="test")
    with pytest.raises(OutreachError, match="not both"):
        await submit_analysis(rt, [fresh], all=True, actor="test")


async def test_without_enrichers_nothing_is_submitted(isolated, make_runtime) -> None:
    rt = await make_runtime(isolated(), load_entry_points=False)
    with pytest.raises(PluginError, match="No enricher is installed"):
        await submit_analysis(rt, all=True, actor="test")


async def test_enrichment_stays_readable_after_the_key_is_rotated(isolated, make_runtime, data_dir) -> None:
    from outreach.kernel.services.keys import rotate_keys

    settings = isolated()
    found = Fixed("finder", 1, {"emails": [{"address": "owner@rotated.com"}]}, email="owner@rotated.com")
    rt = await make_runtime(settings, load_entry_points=False, extra_plugins=[("e", Enrichers(found))])
    (lead_id,) = await discover(rt, "Rotated")
    await analyze(rt)
    before = str(await LeadRow.raw("SELECT enrichment FROM leads"))
    await rotate_keys(rt, actor="test")
    assert str(await LeadRow.raw("SELECT enrichment FROM leads")) != before
    reopened = await make_runtime(settings, load_entry_points=False)
    lead = await reopened.leads.get(lead_id)
    assert lead.enrichment["finder"].data == {"emails": [{"address": "owner@rotated.com"}]}


# -- resuming after a crash -------------------------------------------------------------------

HANGING = textwrap.dedent(
    """
    import asyncio, sys
    from outreach.kernel import hookimpl
    from outreach.kernel.config import parse_settings
    from outreach.kernel.runtime import Runtime
    from outreach.kernel.services.analysis import submit_analysis

    class Hang:
        name, order = "hang", 1
        async def enrich(self, lead):
            print("analyzing", lead.id, flush=True)
            await asyncio.sleep(3600)

    class Plugin:
        @hookimpl
        def register_enrichers(self, register):
            register(Hang())

    async def main():
        database = {"database": {"url": sys.argv[2]}} if len(sys.argv) > 2 else {}
        settings = parse_settings({"data_dir": sys.argv[1], "disabled": ["website", "email_check", "scoring"],
                                   "analysis": {"concurrency": 1}, **database})
        rt = await Runtime.open(settings, load_entry_points=False, extra_plugins=[("hang", Plugin())])
        job = await submit_analysis(rt, all=True, actor="test")
        await rt.runner.run_now(job.id)

    asyncio.run(main())
    """
)


async def test_a_lead_left_analyzing_by_a_killed_process_is_analyzed_again(
    isolated, make_runtime, data_dir
) -> None:
    quick = Fixed("hang", 1, email="found@it.com")
    rt = await make_runtime(isolated(), load_entry_points=False, extra_plugins=[("e", Enrichers(quick))])
    first, second = await discover(rt, "First", "Second")
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HANGING,
        str(data_dir),
        *([rt.settings.database.url] if rt.settings.database.url else []),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        line = await asyncio.wait_for(holder.stdout.readline(), timeout=30)
        assert line.decode().split() == ["analyzing", str(first)]
        assert (await rt.leads.get(first)).lifecycle_state == "analyzing"
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        await holder.wait()

    (job,) = await rt.jobs.list()
    assert await rt.jobs.mark_interrupted() == [job.id]
    await rt.jobs.resume(job.id, actor="test")
    resumed = await rt.runner.run_now(job.id)
    assert resumed.state == "succeeded"
    for lead_id in (first, second):
        lead = await rt.leads.get(lead_id)
        assert lead.lifecycle_state == "pending_review"
        assert lead.email == "found@it.com"
    assert [lead.id for lead in quick.seen] == [first, second]


async def test_leads_of_another_live_analysis_are_left_alone(isolated, make_runtime) -> None:
    rt = await make_runtime(
        isolated(), load_entry_points=False, extra_plugins=[("e", Enrichers(Fixed("f", 1)))]
    )
    taken, free = await discover(rt, "Taken", "Free")
    await rt.leads.transition(taken, "analyzing", actor="test")
    # Another analysis job, running in a living process with a fresh heartbeat.
    await JobRow.insert(
        JobRow(kind="analyze", state="running", owner=process_owner(), heartbeat_at=datetime.now(UTC))
    )
    job = await analyze(rt)
    assert job.counters["analyzed"] == 1
    assert (await rt.leads.get(taken)).lifecycle_state == "analyzing"
    assert (await rt.leads.get(free)).lifecycle_state == "pending_review"


class EditedMeanwhile:
    """An enricher during whose work a person edits one lead (the one named Edited)."""

    name, order = "meanwhile", 10

    def __init__(self) -> None:
        self.rt: Any = None

    async def enrich(self, lead):
        if lead.business_name == "Edited":
            await self.rt.leads.update_fields(lead.id, {"phone": "+49 30 1234567"}, actor="web")
        return Enrichment(
            data={"seen": True}, lead_fields={"email": f"hello@{lead.id}.example"}, confidence=0.5
        )


async def test_a_batch_stores_each_lead_as_lead_by_lead_and_leaves_a_lead_edited_meanwhile(
    isolated, make_runtime
) -> None:
    meanwhile = EditedMeanwhile()
    rt = await make_runtime(isolated(), load_entry_points=False, extra_plugins=[("e", Enrichers(meanwhile))])
    meanwhile.rt = rt
    names = [f"Shop {i}" for i in range(40)] + ["Edited"]  # more than one batch
    ids = await discover(rt, *names)
    job = await analyze(rt)
    assert job.counters["analyzed"] == 40
    assert job.counters["skipped"] == 1
    edited = await rt.leads.get(ids[-1])
    # The person's edit stands; the analysis did not overwrite it or move the lead on.
    assert (edited.phone, edited.lifecycle_state, edited.email) == ("+49 30 1234567", "analyzing", None)
    assert any("changed while it was analyzed" in line["message"] for line in job.report)
    for lead_id in ids[:-1]:
        lead = await rt.leads.get(lead_id)
        assert (lead.lifecycle_state, lead.email) == ("pending_review", f"hello@{lead_id}.example")
        assert lead.enrichment["meanwhile"].data == {"seen": True}
        # One version per change: claimed, enriched, analyzed, pending review.
        assert lead.version == 5
        trail = [
            row["action"]
            for row in await AuditRow.select()
            .where((AuditRow.entity == "lead") & (AuditRow.entity_id == lead_id))
            .order_by(AuditRow.id)
        ]
        assert trail[-4:] == [
            "transition:discovered->analyzing",
            "enriched",
            "transition:analyzing->analyzed",
            "transition:analyzed->pending_review",
        ]
