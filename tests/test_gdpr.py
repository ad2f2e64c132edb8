"""Personal data: everything held about an address exported and erased (command line and web),
retention purging what nobody will write to, and no address or inbound body in clear on disk."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from engine_helpers import CONFIG, LEGAL, LEGAL_TOML, Clock, enrolled, mailbox
from inbound_helpers import reply
from litestar.testing import AsyncTestClient

from outreach.kernel import DiscoveredBusiness, InboundMessage
from outreach.kernel.config import load_settings
from outreach.kernel.models import EnrichmentRecord
from outreach.kernel.runtime import Runtime
from outreach.kernel.services import gdpr, retention
from outreach.kernel.services.keys import rotate_keys
from outreach.kernel.services.periodic import queue_retention
from outreach.kernel.store.engine import read_transaction
from outreach.kernel.store.tables import AuditRow, InboundMessageRow, JobRow, LeadRow, SuppressionRow
from outreach.web import create_app
from outreach.web.cli import cli

# The store's behaviour, on SQLite and on PostgreSQL alike.
pytestmark = pytest.mark.both_engines

REPLY = "Please unsubscribe me, I am Dana Whitfield and my number is 555-0199."
SECRET_NOTE = "private note seen only in enrichment"


async def history(rt: Runtime) -> dict[int, int]:
    """Two leads written to; the first answered, opened the email, and has enrichment data."""
    rt.clock = Clock()
    firsts = await enrolled(rt, 2, contact_name=lambda i: f"Dana Whitfield {i}", phone="+1 512 555 0101")
    first_lead = min(firsts)
    await rt.leads.record_enrichment(
        first_lead,
        [EnrichmentRecord(enricher="notes", data={"note": SECRET_NOTE, "seen_at": "owner0@lead0.example"})],
        {},
        actor="test",
    )
    await rt.outbox.run_until_idle()
    email = await rt.emails.get(firsts[first_lead])
    rt.clock.advance(hours=1)
    await rt.tracking.record("open", email.id, user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0")
    await rt.inbound.process(InboundMessage(raw=reply(email, REPLY), source="test"))
    return firsts


def run(config: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "outreach.toml"
    path.write_text(CONFIG.format(data=tmp_path / "data") + LEGAL_TOML)
    return path


def database_bytes(data_dir: Path) -> bytes:
    return b"".join(path.read_bytes() for path in data_dir.glob("outreach.db*") if path.is_file())


def test_no_address_phone_name_or_inbound_body_is_stored_in_clear(config: Path, tmp_path: Path) -> None:
    async def main() -> tuple[bytes, list[str]]:
        rt = await Runtime.open(load_settings(config), load_entry_points=False)
        try:
            await history(rt)
            # An open read keeps the write-ahead log from being checkpointed away while it is read.
            async with read_transaction():
                await LeadRow.count()
                files = sorted(p.name for p in (tmp_path / "data").glob("outreach.db*"))
                return database_bytes(tmp_path / "data"), files
        finally:
            await rt.close()

    raw, files = asyncio.run(main())
    assert {"outreach.db", "outreach.db-wal"} <= set(files)
    assert len(raw) > 100_000
    for clear in (
        b"owner0@lead0.example",
        b"owner1@lead1.example",
        b"OWNER0@LEAD0.EXAMPLE",
        b"555 0101",
        b"Dana Whitfield",
        b"I am Dana",
        b"unsubscribe me",
        SECRET_NOTE.encode(),
    ):
        assert clear not in raw, clear
    assert b"Business 0" in raw  # the business itself is not personal data and stays readable


def test_export_then_erase_from_the_command_line(config: Path, tmp_path: Path) -> None:
    async def prepare() -> dict[int, int]:
        rt = await Runtime.open(load_settings(config), load_entry_points=False)
        try:
            return await history(rt)
        finally:
            await rt.close()

    firsts = asyncio.run(prepare())
    first_lead, other_lead = sorted(firsts)
    outbox = tmp_path / "data" / "outbox"
    assert len(list(outbox.glob("*.eml"))) == 2

    exported = json.loads(run(config, "gdpr", "export", "Owner0@Lead0.example"))
    (lead,) = exported["leads"]
    assert (lead["id"], lead["email"], lead["contact_name"]) == (
        first_lead,
        "owner0@lead0.example",
        "Dana Whitfield 0",
    )
    assert lead["enrichment"]["notes"]["data"]["note"] == SECRET_NOTE
    (sent,) = exported["emails"]
    assert sent["to_address"] == "owner0@lead0.example"
    (inbound,) = exported["inbound_messages"]
    assert REPLY in inbound["body"]
    assert inbound["category"] == "unsubscribe"
    assert [e["kind"] for e in exported["tracking_events"]] == ["open"]
    assert [s["email"] for s in exported["suppressions"]] == ["owner0@lead0.example"]
    entities = {row["entity"] for row in exported["audit"]}
    assert entities == {"lead", "email", "inbound", "suppression"}
    assert "owner1" not in json.dumps(exported)

    report = json.loads(run(config, "gdpr", "erase", "owner0@lead0.example", "--yes", "--json"))
    assert report == {
        "leads": 1,
        "emails": 1,
        "inbound_messages": 1,
        "tracking_events": 1,
        "audit_rows": report["audit_rows"],
    }
    assert report["audit_rows"] >= 8

    async def check() -> None:
        rt = await Runtime.open(load_settings(config), load_entry_points=False)
        try:
            again = await gdpr.export_data(rt, address="owner0@lead0.example")
            assert [again[k] for k in ("leads", "emails", "inbound_messages", "tracking_events")] == [[]] * 4
            (entry,) = again["suppressions"]
            assert entry["email"] is None  # only the keyed hash is left
            assert await rt.suppressions.is_suppressed("OWNER0@lead0.example")
            erased = await AuditRow.select().where(AuditRow.action == "erased")
            assert len(erased) == 1
            assert "owner0" not in json.dumps(erased, default=str)
            scrubbed = await AuditRow.select().where(
                (AuditRow.entity == "lead") & (AuditRow.entity_id == first_lead)
            )
            assert scrubbed
            assert all(json.loads(r["new_value"]) == {"erased": True} for r in scrubbed)
            assert (await rt.leads.get(other_lead)).email == "owner1@lead1.example"
            # Found again by discovery, the address is still never written to.
            lead, _ = await rt.leads.upsert_discovered(
                DiscoveredBusiness(business_name="Business 0 again", email="owner0@lead0.example"), "test"
            )
            await LeadRow.update({LeadRow.lifecycle_state: "approved"}).where(LeadRow.id == lead.id)
            assert lead.id in (await rt.enrollment.mark_ready([lead.id], actor="test")).skipped
        finally:
            await rt.close()

    asyncio.run(check())
    # The outbox sender's copy of the erased email is gone; the other lead's stays.
    (kept,) = outbox.glob("*.eml")
    assert b"owner1@lead1.example" in kept.read_bytes()
    assert b"owner0@lead0.example" not in database_bytes(tmp_path / "data")


def _csrf(html: str) -> str:
    return re.search(r'"x-csrftoken": "([^"]+)"', html).group(1)


async def test_export_and_erase_from_the_web(make_settings, make_runtime) -> None:
    rt = await make_runtime(
        make_settings(mailboxes=[mailbox()], sending={"rate_limit_per_minute": 0}, **LEGAL)
    )
    firsts = await history(rt)
    first_lead, other_lead = sorted(firsts)
    async with AsyncTestClient(app=create_app(rt)) as client:
        detail = await client.get(f"/leads/{first_lead}")
        assert f'href="/gdpr/leads/{first_lead}/export"' in detail.text
        assert f'hx-post="/gdpr/leads/{first_lead}/erase"' in detail.text
        token = _csrf(detail.text)
        download = await client.get(f"/gdpr/leads/{first_lead}/export")
        assert download.status_code == 200
        assert "attachment" in download.headers["content-disposition"]
        assert download.json()["leads"][0]["email"] == "owner0@lead0.example"

        by_address = await client.post(
            "/gdpr/export", data={"email": "owner1@lead1.example", "_csrf_token": token}
        )
        assert by_address.json()["emails"][0]["to_address"] == "owner1@lead1.example"
        refused = await client.post("/gdpr/export", data={"email": "owner1@lead1.example"})
        assert refused.status_code == 403  # CSRF applies here

        unconfirmed = await client.post(
            "/gdpr/erase",
            data={"email": "owner1@lead1.example"},
            headers={"HX-Request": "true", "x-csrftoken": token},
        )
        assert unconfirmed.status_code == 422
        assert (await rt.leads.get(other_lead)).email == "owner1@lead1.example"
        erased = await client.post(
            "/gdpr/erase",
            data={"email": "owner1@lead1.example", "confirm": "yes"},
            headers={"HX-Request": "true", "x-csrftoken": token},
        )
        assert erased.status_code == 200
        assert "Erased: 1 lead(s), 1 email(s)" in erased.text

        gone = await client.post(
            f"/gdpr/leads/{first_lead}/erase", headers={"HX-Request": "true", "x-csrftoken": token}
        )
        assert gone.headers["hx-redirect"] == "/leads"
    assert await LeadRow.count() == 0
    assert await SuppressionRow.count().where(SuppressionRow.email.is_null()) == 2


async def test_retention_purges_rejected_expired_and_failed_leads_once_a_day(
    make_settings, make_runtime
) -> None:
    rt = await make_runtime(make_settings(compliance={"retention_days": 30}))
    clock = Clock()
    rt.clock = clock
    ids = {}
    for state in ("rejected", "expired", "failed", "approved", "rejected-recent"):
        lead, _ = await rt.leads.upsert_discovered(
            DiscoveredBusiness(business_name=f"Lead {state}", email=f"{state}@leads.example"), "test"
        )
        ids[state] = lead.id
        old = clock.now - timedelta(days=5 if state == "rejected-recent" else 45)
        await LeadRow.update({LeadRow.lifecycle_state: state.split("-")[0], LeadRow.updated_at: old}).where(
            LeadRow.id == lead.id
        )
    await rt.suppressions.add("rejected@leads.example", reason="unsubscribed", actor="test")

    first = await queue_retention(rt)
    assert first is not None
    assert await queue_retention(rt) is None  # once a day, whoever asks
    job = await rt.runner.run_now(first)
    assert job.state == "succeeded"
    assert job.result == {"purged": 3, "retention_days": 30}
    remaining = {r["id"] for r in await LeadRow.select(LeadRow.id)}
    assert remaining == {ids["approved"], ids["rejected-recent"]}
    purged = await AuditRow.select().where(AuditRow.action == "purged")
    assert {(r["entity_id"], r["actor"]) for r in purged} == {
        (ids[s], retention.ACTOR) for s in ("rejected", "expired", "failed")
    }
    assert await rt.suppressions.is_suppressed("rejected@leads.example")  # the list is never purged
    assert await JobRow.count().where(JobRow.kind == "retention") == 1


async def test_key_rotation_reencrypts_inbound_messages(make_settings, make_runtime) -> None:
    rt = await make_runtime(
        make_settings(mailboxes=[mailbox()], sending={"rate_limit_per_minute": 0}, **LEGAL)
    )
    await history(rt)
    before = await InboundMessageRow.select(InboundMessageRow.body).first()
    report = await rotate_keys(rt, actor="test")
    assert report.rows["inbound_messages"] == 1
    after = await InboundMessageRow.select(InboundMessageRow.body).first()
    assert after["body"] != before["body"]
    (message,) = (await rt.inbound.list()).items
    assert REPLY in message.body
    assert message.address == "owner0@lead0.example"


async def stored_bytes(rt, data_dir: Path, request) -> bytes:
    """Every byte the store keeps on disk: SQLite's files, or PostgreSQL's tables and indexes."""
    if not rt.settings.database.url:
        return database_bytes(data_dir)
    cluster = request.getfixturevalue("postgres_server")
    await LeadRow.raw("CHECKPOINT")  # what is in shared buffers reaches the files
    rows = await LeadRow.raw(
        "SELECT pg_relation_filepath(c.oid) AS path FROM pg_class c "
        "WHERE c.relnamespace = 'public'::regnamespace AND pg_relation_filepath(c.oid) IS NOT NULL "
        "UNION SELECT pg_relation_filepath(c.reltoastrelid) FROM pg_class c "
        "WHERE c.relnamespace = 'public'::regnamespace AND c.reltoastrelid <> 0"
    )
    files = [cluster.data_dir / row["path"] for row in rows if row["path"]]
    return b"".join(path.read_bytes() for path in files if path.is_file())


async def test_an_erased_lead_leaves_nothing_readable_in_the_file(
    make_settings, make_runtime, data_dir, request
) -> None:
    rt = await make_runtime(make_settings())
    kept, _ = await rt.leads.upsert_discovered(
        DiscoveredBusiness(business_name="Kept Bakery", email="hello@kept.example"), "test"
    )
    await rt.leads.upsert_discovered(
        DiscoveredBusiness(
            business_name="Zanzibar Orthodontics Quillfeather",
            location="12 Quillfeather Lane",
            email="dr.quillfeather@zanzibar.example",
        ),
        "test",
    )
    await gdpr.erase_data(rt, address="dr.quillfeather@zanzibar.example", actor="test")
    raw = await stored_bytes(rt, data_dir, request)
    assert b"Kept Bakery" in raw
    assert b"Quillfeather" not in raw  # neither in free pages nor in the write-ahead log
    assert (await rt.leads.get(kept.id)).email == "hello@kept.example"
