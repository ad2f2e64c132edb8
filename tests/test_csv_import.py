"""CSV import: header mapping, bad rows reported by line while good rows import, no duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest

from outreach.kernel import DiscoveryQuery
from outreach.kernel.errors import ImportFileError
from outreach.kernel.services.discovery import submit_discovery

GOOD_AND_BAD = (
    "Company,Type,Address,Phone,Website,E-mail,Google Maps URL\n"
    'Acme Dental,Dentist,"1 Main St, Austin, TX",512-555-0100,https://acme.example,Info@Acme.example,\n'
    ",Dentist,nowhere,,,,\n"
    "Best Teeth,Dentist,2 Main St,,bestteeth.example,not-an-email,\n"
    '"Multi\nLine Clinic",Clinic,3 Main St,,,,\n'
    "Too,Many,Fields,a,b,c,d,e,f\n"
    '"Maps Only",Cafe,,,,,"https://www.google.com/maps/place/Maps+Only/@30.26,-97.74,17z/data=!4m6!3m5'
    '!1s0x8644b5:0x1a2b!8m2!3d30.26!4d-97.74!16s%2Fg%2F11!19sChIJmapsOnly123"\n'
)


async def _import(rt, path: Path, **options):
    job = await submit_discovery(rt, "csv", DiscoveryQuery(query=str(path), options=options), actor="test")
    return await rt.runner.run_now(job.id)


async def test_good_rows_import_and_bad_rows_are_reported_with_their_line(runtime, tmp_path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(GOOD_AND_BAD)
    job = await _import(runtime, path)
    assert job.state == "succeeded"
    assert job.counters["created"] == 4
    assert job.counters["skipped"] == 2
    problems = {(p["line"], p["message"].split(";")[0]) for p in job.report}
    assert (3, "has no business name") in problems
    assert (4, "the email column does not hold a valid address") in problems
    assert not any("not-an-email" in p["message"] for p in job.report)
    assert any(line == 7 and "fields" in message for line, message in problems)
    leads = {lead.business_name: lead for lead in (await runtime.leads.list()).items}
    assert set(leads) == {"Acme Dental", "Best Teeth", "Multi\nLine Clinic", "Maps Only"}
    acme = leads["Acme Dental"]
    assert acme.email == "info@acme.example"
    assert acme.category == "Dentist"
    assert acme.location == "1 Main St, Austin, TX"
    assert acme.lifecycle_state == "discovered"
    assert acme.discovery_source == "csv"
    assert leads["Best Teeth"].email is None
    assert leads["Maps Only"].place_id is None  # the id stays in the URL; identity reads it from there
    assert leads["Maps Only"].maps_url.startswith("https://www.google.com/maps/place/")


async def test_reimporting_the_same_file_creates_no_duplicates(runtime, tmp_path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(GOOD_AND_BAD)
    await _import(runtime, path)
    again = await _import(runtime, path)
    assert again.counters.get("created", 0) == 0
    assert again.counters["unchanged"] == 4
    assert (await runtime.leads.list()).total == 4


async def test_identity_is_maps_url_else_domain_and_name(runtime, tmp_path) -> None:
    first = tmp_path / "first.csv"
    first.write_text(
        "name,website,maps_url\n"
        "Acme Dental,https://www.acme.example/,\n"
        "Acme Dental,https://acme-other.example,\n"
        'Renamed Place,,"https://www.google.com/maps/place/X/@1,2,3z/data=!1s0xabc:0xdef"\n'
    )
    await _import(runtime, first)
    second = tmp_path / "second.csv"
    second.write_text(
        "name,website,maps_url\n"
        "ACME dental,http://acme.example/contact,\n"
        'New Name Same Place,,"https://www.google.com/maps/place/Y/@5,6,7z/data=!1s0xABC:0xDEF"\n'
    )
    job = await _import(runtime, second)
    assert job.counters.get("created", 0) == 0
    assert (await runtime.leads.list()).total == 3


async def test_explicit_header_mapping(runtime, tmp_path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("Firma;Branche;Anschrift\nZahnarzt Müller;Zahnarzt;Hauptstr. 1, Berlin\n")
    job = await _import(runtime, path, mapping={"business_name": "Firma", "location": "Anschrift"})
    assert job.state == "succeeded"
    (lead,) = (await runtime.leads.list()).items
    assert lead.business_name == "Zahnarzt Müller"
    assert lead.location == "Hauptstr. 1, Berlin"


async def test_windows_1252_file_is_read_and_said(runtime, tmp_path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("name,city\nCafé Crème,Zürich\n".encode("cp1252"))
    job = await _import(runtime, path)
    assert (await runtime.leads.list()).items[0].business_name == "Café Crème"
    assert any("windows-1252" in p["message"] for p in job.report)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "There is no file"),
        (b"", "is empty"),
        (b"\x00\x01\x02binary", "binary"),
        (b"foo,bar\n1,2\n", "no column for the business name"),
    ],
)
async def test_unreadable_files_fail_the_job_with_a_sentence(runtime, tmp_path, content, message) -> None:
    path = tmp_path / "input.csv"
    if content is not None:
        path.write_bytes(content)
    job = await _import(runtime, path)
    assert job.state == "failed"
    assert message in job.error
    assert (await runtime.leads.list()).total == 0


async def test_mapping_to_a_missing_column_is_an_error(runtime, tmp_path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("name\nA\n")
    job = await _import(runtime, path, mapping={"email": "Mail"})
    assert job.state == "failed"
    assert "no such column" in job.error


def test_reader_rejects_unknown_mapping_fields() -> None:
    from outreach.plugins.csv_import.reader import resolve_columns

    with pytest.raises(ImportFileError, match="not a lead field"):
        resolve_columns(["name"], {"shoe_size": "name"})


EXCEL_ROWS = [
    ("Name", "City", "Country", "E-mail"),
    ("Bäckerei Süß", "Düsseldorf", "Germany", "info@bäckerei-süß.de"),
    ("Café Crème", "Zürich", "Schweiz", "bonjour@creme.example"),
    ("Œuvre Atelier", "Lyon", "FRA", ""),
    ("Nowhere Shop", "Atlantis", "Atlantis", ""),
]


@pytest.mark.parametrize(
    ("encoding", "delimiter", "said"),
    [
        ("utf-16", "\t", "utf-16"),  # Excel's "Unicode Text": UTF-16 with a byte-order mark, tabs
        ("utf-16-le", ",", "utf-16-le"),  # the same without the mark
        ("cp1252", ";", "windows-1252"),  # Excel's "CSV" in Western Europe: the Windows code page
    ],
)
async def test_excel_exports_are_read_in_their_encoding_and_the_country_is_kept(
    runtime, tmp_path, encoding, delimiter, said
) -> None:
    # Windows-1252 cannot write the address at the non-ASCII domain: that column stays empty.
    rows = EXCEL_ROWS if encoding != "cp1252" else [(*r[:3], "") for r in EXCEL_ROWS]
    text = "\r\n".join(delimiter.join(row) for row in rows) + "\r\n"
    path = tmp_path / "export.csv"
    path.write_bytes(text.encode(encoding))
    job = await _import(runtime, path)
    assert job.state == "succeeded", job.error
    assert any(said in p["message"] for p in job.report)
    leads = {lead.business_name: lead for lead in (await runtime.leads.list()).items}
    assert set(leads) == {row[0] for row in EXCEL_ROWS[1:]}
    assert (leads["Bäckerei Süß"].city, leads["Bäckerei Süß"].country_code) == ("Düsseldorf", "DE")
    assert leads["Café Crème"].country_code == "CH"
    assert leads["Œuvre Atelier"].country_code == "FR"
    assert leads["Bäckerei Süß"].discovery_metadata["country"] == "Germany"
    # A country no table knows is kept as written and reported, not dropped.
    assert leads["Nowhere Shop"].country_code is None
    assert leads["Nowhere Shop"].discovery_metadata["country"] == "Atlantis"
    assert any("country 'Atlantis'" in p["message"] and p["line"] == 5 for p in job.report)
    if encoding != "cp1252":
        # An address at a non-ASCII domain is stored in the form that sends.
        assert leads["Bäckerei Süß"].email == "info@xn--bckerei-s-o1a0c4t.de"
