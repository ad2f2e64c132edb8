"""Exporting leads: CSV for Excel (BOM, one header row) and JSON, decrypted, filtered, paged and audited."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from test_cli import outreach

from outreach.kernel import DiscoveredBusiness
from outreach.kernel.services import lead_export
from outreach.kernel.services.leads import LeadQuery
from outreach.kernel.states import LeadState
from outreach.kernel.store.tables import AuditRow, LeadRow
from outreach.web import create_app

HEADER = [header for _, header in lead_export.FIELDS]


async def _lead(rt, name: str, state: str = LeadState.PENDING_REVIEW, **fields):
    lead, _ = await rt.leads.upsert_discovered(DiscoveredBusiness(business_name=name, **fields), "maps")
    await LeadRow.update({LeadRow.lifecycle_state: state, LeadRow.score: 0.5}).where(LeadRow.id == lead.id)
    return await rt.leads.get(lead.id)


@pytest.fixture
async def seeded(runtime):
    await _lead(
        runtime,
        "Zahnarzt Müller",
        category="Dentist",
        location="Hauptstraße 1, 10115 Berlin",
        city="Berlin",
        country_code="DE",
        phone="+49 30 1234567",
        email="praxis@mueller.example",
        website_url="https://mueller.example",
        rating=4.5,
        review_count=12,
    )
    await _lead(runtime, "Beta Bakery", category="Bakery", email="hi@beta.example", state=LeadState.APPROVED)
    first = (await runtime.leads.list(LeadQuery())).items[0]
    await runtime.leads.change_tags([first.id], add=["berlin", "dentists"], actor="tester")
    return runtime


@pytest.fixture
async def client(seeded):
    async with AsyncTestClient(app=create_app(seeded)) as client:
        yield client


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


async def _export_audits() -> list[dict]:
    rows = await AuditRow.select().where(AuditRow.entity == "export").order_by(AuditRow.id)
    for row in rows:
        for key in ("old_value", "new_value"):
            if isinstance(row[key], str):
                row[key] = json.loads(row[key])
    return rows


async def test_csv_download_has_bom_header_and_decrypted_rows(client, seeded) -> None:
    # The personal fields are stored encrypted...
    stored = await LeadRow.select(LeadRow.email, LeadRow.phone).order_by(LeadRow.id).first()
    assert "praxis@mueller.example" not in stored["email"]
    answer = await client.get("/leads/export", params={"format": "csv"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    raw = answer.content
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = _rows(raw.decode("utf-8-sig"))
    assert rows[0] == HEADER
    assert len(rows) == 3
    record = dict(zip(HEADER, rows[1], strict=True))
    # ... and decrypted in the file.
    assert record["Business name"] == "Zahnarzt Müller"
    assert record["Email"] == "praxis@mueller.example"
    assert record["Phone"] == "+49 30 1234567"
    assert record["Address"] == "Hauptstraße 1, 10115 Berlin"
    assert record["City"] == "Berlin"
    assert record["Country"] == "DE"
    assert record["Rating"] == "4.5"
    assert record["Reviews"] == "12"
    assert record["State"] == "pending_review"
    assert record["Score"] == "0.5"
    assert record["Tags"] == "berlin, dentists"
    assert record["Discovery source"] == "maps"
    assert record["Created"]
    assert rows[2][0] == "Beta Bakery"


async def test_download_applies_filters_and_is_audited_without_data(client, seeded) -> None:
    by_state = _rows((await client.get("/leads/export", params={"state": "approved"})).text.lstrip("\ufeff"))
    assert [row[0] for row in by_state[1:]] == ["Beta Bakery"]
    by_tag = await client.get("/leads/export", params={"tag": "Dentists", "format": "json"})
    assert by_tag.headers["content-type"].startswith("application/json")
    records = by_tag.json()
    assert [r["business_name"] for r in records] == ["Zahnarzt Müller"]
    assert records[0]["email"] == "praxis@mueller.example"
    assert records[0]["tags"] == ["berlin", "dentists"]
    assert set(records[0]) == {name for name, _ in lead_export.FIELDS}
    none = await client.get("/leads/export", params={"tag": "nobody", "format": "json"})
    assert none.json() == []
    assert (await client.get("/leads/export", params={"format": "xlsx"})).status_code == 422

    audits = await _export_audits()
    assert len(audits) == 3
    assert {row["actor"] for row in audits} == {"web"}
    assert audits[0]["new_value"] == {"filter": {"state": "approved"}, "format": "csv", "rows": 1}
    assert audits[1]["new_value"]["filter"] == {"tag": "dentists"}
    assert audits[2]["new_value"]["rows"] == 0
    text = json.dumps([row["new_value"] for row in audits]) + json.dumps([row["old_value"] for row in audits])
    for secret in ("praxis@mueller.example", "Hauptstraße", "+49 30", "hi@beta.example"):
        assert secret not in text


async def test_leads_page_links_the_export_for_its_filter(client) -> None:
    page = await client.get("/leads", params={"state": "approved", "tag": "vip", "page": "2"})
    links = re.findall(r'href="(/leads/export\?[^"]+)"', page.text)
    assert links
    assert all("state=approved" in link and "tag=vip" in link and "page=" not in link for link in links)


async def test_export_reads_in_batches(seeded, monkeypatch) -> None:
    monkeypatch.setattr(lead_export, "BATCH", 1)
    for n in range(3):
        await _lead(seeded, f"Extra {n}")
    counted = lead_export.ExportCount()
    text = "".join([chunk async for chunk in lead_export.export_chunks(seeded, LeadQuery(), "csv", counted)])
    assert counted.rows == 5
    assert len(_rows(text.lstrip("\ufeff"))) == 6
    names = [lead.business_name async for lead in lead_export.leads_for_export(seeded, LeadQuery())]
    assert names[-3:] == ["Extra 0", "Extra 1", "Extra 2"]


CSV = "name,category,address,phone,website,email\n"
CSV += 'Acme Dental,Dentist,"1 Main St, Austin",512-555-0100,,info@acme.example\n'
CSV += "Beta Bakery,Bakery,2 Oak St,512-555-0101,,hi@beta.example\n"


def test_cli_exports_csv_and_json_with_filters(tmp_path: Path) -> None:
    data, source = tmp_path / "data", tmp_path / "leads.csv"
    source.write_text(CSV)
    outreach(data, "leads", "import", str(source))
    outreach(data, "leads", "tag", "2", "--add", "bakeries")

    out = tmp_path / "all.csv"
    done = outreach(data, "leads", "export", str(out))
    assert "Exported 2 leads" in done.stdout
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = _rows(raw.decode("utf-8-sig"))
    assert rows[0] == HEADER
    assert [row[0] for row in rows[1:]] == ["Acme Dental", "Beta Bakery"]
    assert rows[1][HEADER.index("Email")] == "info@acme.example"
    assert rows[1][HEADER.index("Address")] == "1 Main St, Austin"
    assert rows[2][HEADER.index("Tags")] == "bakeries"

    tagged = tmp_path / "tagged.json"
    outreach(data, "leads", "export", "--tag", "bakeries", "--format", "json", str(tagged))
    records = json.loads(tagged.read_text(encoding="utf-8"))
    assert [(r["business_name"], r["phone"]) for r in records] == [("Beta Bakery", "512-555-0101")]

    none = tmp_path / "none.csv"
    outreach(data, "leads", "export", "--state", "approved", str(none))
    assert _rows(none.read_text(encoding="utf-8-sig")) == [HEADER]
    assert not list(tmp_path.glob("*.part"))

    bad = outreach(data, "leads", "export", "--tag", "no/way", str(tmp_path / "x.csv"), check=False)
    assert bad.returncode == 2
    assert not (tmp_path / "x.csv").exists()

    with sqlite3.connect(data / "outreach.db") as db:
        audits = db.execute(
            "SELECT actor, new_value FROM audit_log WHERE entity = 'export' ORDER BY id"
        ).fetchall()
    assert [(actor, json.loads(value)["rows"]) for actor, value in audits] == [
        ("cli", 2),
        ("cli", 1),
        ("cli", 0),
    ]
    assert json.loads(audits[1][1])["filter"] == {"tag": "bakeries"}
    assert "info@acme.example" not in str(audits)
