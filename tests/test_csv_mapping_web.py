"""Importing a CSV whose header is not recognized: the browser asks which column is which.

Through Litestar's test client, and once in Chromium: the upload answers a mapping form (the file's headers,
a preview of its first rows, recognized columns pre-selected); submitting it queues the
import with ``options["mapping"]`` on the saved file, and the job imports the leads.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn
from litestar.testing import AsyncTestClient
from playwright.async_api import async_playwright
from support.chromium import CHROMIUM_ARGS, chromium_path

from outreach.kernel.errors import ImportFileError
from outreach.plugins.csv_import.columns import FIELD_LABELS
from outreach.plugins.csv_import.reader import HEADER_ALIASES, resolve_columns
from outreach.web import create_app

HX = {"HX-Request": "true"}
GERMAN = (
    "Firma;E-Mail;Tel;Stadt\n"
    "Zahnarzt Müller;Info@Mueller.example;030 1234;Berlin\n"
    "Bäckerei Süß;kein-mail;;Hamburg\n"
    ";x@y.example;;Köln\n"
).encode()
FRENCH = (
    "Société;Téléphone;Ville\r\n"
    "Café Crème;+41 44 000 00 00;Zürich\r\n"
    "Pâtisserie Élise;+33 1 00 00 00 00;Besançon\r\n"
    "Crêperie Bretonne;+33 2 00 00 00 00;Quimper\r\n"
).encode("cp1252")


@pytest.fixture
async def client(runtime):
    async with AsyncTestClient(app=create_app(runtime)) as client:
        page = (await client.get("/leads")).text
        client.headers["x-csrftoken"] = re.search(r'"x-csrftoken": "([^"]+)"', page).group(1)
        yield client


async def _upload(client, content: bytes, name: str = "export.csv", headers=HX):
    return await client.post("/leads/import", files={"file": (name, content, "text/csv")}, headers=headers)


def _token(html: str) -> str:
    return re.search(r'name="upload" value="([^"]+)"', html).group(1)


def _selected(html: str, field: str) -> str:
    """The value of the option selected for ``field`` in the mapping form."""
    select = re.search(rf'<select id="column-{field}".*?</select>', html, re.S).group(0)
    return re.search(r'<option value="([^"]*)" selected>', select).group(1)


def _mapping(token: str, **columns: str) -> dict[str, str]:
    return {"upload": token, **{f"column-{field}": header for field, header in columns.items()}}


async def test_unknown_semicolon_header_gets_a_form_and_the_chosen_mapping_imports(client, runtime) -> None:
    form = await _upload(client, GERMAN, "Praxen Berlin.csv")
    assert form.status_code == 200, form.text
    html = form.text
    assert "<html" not in html  # an htmx fragment for #import-status
    assert 'id="column-mapping"' in html
    assert "Praxen-Berlin.csv" in html
    assert "separated by semicolons" in html
    for header in ("Firma", "E-Mail", "Tel", "Stadt"):
        assert f'<option value="{header}"' in html
    assert "Zahnarzt Müller" in html  # the preview
    assert "Bäckerei Süß" in html
    # Columns the aliases know are pre-selected; the rest wait for the person.
    assert _selected(html, "email") == "E-Mail"
    assert _selected(html, "phone") == "Tel"
    assert _selected(html, "business_name") == ""
    assert _selected(html, "city") == ""
    assert await runtime.jobs.list() == []

    answer = await client.post(
        "/leads/import/mapping",
        data=_mapping(_token(html), business_name="Firma", email="E-Mail", phone="Tel", city="Stadt"),
        headers=HX,
    )
    assert answer.status_code == 200, answer.text
    assert 'data-job-state="queued"' in answer.text
    (job,) = await runtime.jobs.list()
    mapping = job.params["query"]["options"]["mapping"]
    assert {k: v for k, v in mapping.items() if v} == {
        "business_name": "Firma",
        "email": "E-Mail",
        "phone": "Tel",
        "city": "Stadt",
    }
    assert job.params["query"]["query"].startswith(str(runtime.settings.data_path / "imports"))

    done = await runtime.runner.run_now(job.id)
    assert done.state == "succeeded", done.error
    leads = {lead.business_name: lead for lead in (await runtime.leads.list()).items}
    assert set(leads) == {"Zahnarzt Müller", "Bäckerei Süß"}
    assert leads["Zahnarzt Müller"].email == "info@mueller.example"
    assert leads["Zahnarzt Müller"].phone == "030 1234"
    assert leads["Zahnarzt Müller"].city == "Berlin"
    assert leads["Bäckerei Süß"].email is None
    assert leads["Bäckerei Süß"].city == "Hamburg"
    polled = (await client.get(f"/jobs/{job.id}", headers=HX)).text
    assert "line 3: the email column does not hold a valid address" in polled
    assert "line 4: has no business name" in polled


async def test_a_windows_1252_file_is_previewed_and_imported_as_read(client, runtime) -> None:
    html = (await _upload(client, FRENCH, "clients.csv")).text
    assert "Read as windows-1252" in html
    assert "Café Crème" in html
    assert "Besançon" in html
    assert '<option value="Société"' in html
    answer = await client.post(
        "/leads/import/mapping",
        data=_mapping(_token(html), business_name="Société", phone="Téléphone", city="Ville"),
        headers=HX,
    )
    assert answer.status_code == 200, answer.text
    (job,) = await runtime.jobs.list()
    await runtime.runner.run_now(job.id)
    leads = {lead.business_name: lead for lead in (await runtime.leads.list()).items}
    assert set(leads) == {"Café Crème", "Pâtisserie Élise", "Crêperie Bretonne"}
    assert leads["Café Crème"].city == "Zürich"
    assert leads["Pâtisserie Élise"].phone == "+33 1 00 00 00 00"


async def test_none_leaves_out_a_column_the_aliases_would_read(client, runtime) -> None:
    token = _token((await _upload(client, GERMAN)).text)
    await client.post(
        "/leads/import/mapping",
        data=_mapping(token, business_name="Firma", email="", phone="Tel"),
        headers=HX,
    )
    (job,) = await runtime.jobs.list()
    await runtime.runner.run_now(job.id)
    leads = (await runtime.leads.list()).items
    assert {lead.email for lead in leads} == {None}
    assert {lead.phone for lead in leads} == {"030 1234", None}


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"email": "E-Mail"}, "Choose the column that holds the business name"),
        ({"business_name": "", "email": "E-Mail"}, "Choose the column that holds the business name"),
        (
            {"business_name": "Firma", "email": "Firma"},
            "The column &#39;Firma&#39; is chosen for Business name and Email",
        ),
        ({"business_name": "Firma", "city": "Ort"}, "The file has no column &#39;Ort&#39;"),
    ],
)
async def test_a_bad_mapping_is_refused_in_the_form_with_the_choices_kept(
    client, runtime, columns, message
) -> None:
    token = _token((await _upload(client, GERMAN)).text)
    answer = await client.post("/leads/import/mapping", data=_mapping(token, **columns), headers=HX)
    assert answer.status_code == 422
    assert message in answer.text
    # The form comes back in place of the one sent, with what the person chose.
    assert answer.headers["hx-retarget"] == "#import-status"
    assert 'id="column-mapping"' in answer.text
    assert _token(answer.text) == token
    if columns.get("email"):
        assert _selected(answer.text, "email") == columns["email"]
    assert "Zahnarzt Müller" in answer.text
    assert await runtime.jobs.list() == []


async def test_a_forged_upload_token_is_refused(client, runtime, tmp_path) -> None:
    token = _token((await _upload(client, GERMAN)).text)
    imports = runtime.settings.data_path / "imports"
    outside = tmp_path / "elsewhere.csv"
    outside.write_bytes(GERMAN)
    (imports / "20260101T000000000000-link.csv").symlink_to(outside)
    for forged in (
        "../outreach.db",
        str(outside),
        "mappings.json",
        "20260101T000000000000-never-uploaded.csv",
        "20260101T000000000000-link.csv",
        token + "/..",
        "",
    ):
        answer = await client.post(
            "/leads/import/mapping", data=_mapping(forged, business_name="Firma"), headers=HX
        )
        assert answer.status_code == 422, forged
        assert "upload the CSV again" in answer.text
    assert await runtime.jobs.list() == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"  \n", "is empty"),
        (b"\x00\x01\x02\x03\xff\xfe binary", "looks like a binary file"),
        (b"Firma;Stadt\n", "has a header row but no rows of data"),
        (b";;\nA;B;C\n", "The first row of bad.csv is empty"),
    ],
)
async def test_a_file_that_cannot_be_imported_is_refused_with_a_sentence(
    client, runtime, content, message
) -> None:
    answer = await _upload(client, content, "bad.csv")
    assert answer.status_code == 422
    assert message in answer.text
    assert answer.headers["hx-retarget"] == "#flash"
    assert await runtime.jobs.list() == []


async def test_a_recognized_header_with_semicolons_imports_at_once(client, runtime) -> None:
    answer = await _upload(client, b"Company;E-Mail;Tel\nAcme;info@acme.example;555\n")
    assert 'data-job-state="queued"' in answer.text
    (job,) = await runtime.jobs.list()
    await runtime.runner.run_now(job.id)
    (lead,) = (await runtime.leads.list()).items
    assert (lead.business_name, lead.email, lead.phone) == ("Acme", "info@acme.example", "555")


async def test_the_chosen_mapping_is_offered_again_for_the_same_header(client, runtime) -> None:
    token = _token((await _upload(client, GERMAN)).text)
    await client.post(
        "/leads/import/mapping", data=_mapping(token, business_name="Firma", city="Stadt"), headers=HX
    )
    again = (await _upload(client, GERMAN.replace(b"Berlin", b"Potsdam"), "next week.csv")).text
    assert "as for the last file with the same header" in again
    assert _selected(again, "business_name") == "Firma"
    assert _selected(again, "city") == "Stadt"
    assert _selected(again, "email") == ""  # not chosen last time
    other = (await _upload(client, b"Firma;Ort\nA;B\n")).text
    assert "as for the last file" not in other
    assert _selected(other, "business_name") == ""


async def test_without_htmx_the_form_is_a_page_of_its_own(client, runtime) -> None:
    page = await _upload(client, GERMAN, headers={})
    assert page.status_code == 200
    assert "<html" in page.text
    assert '<div id="import-status">' in page.text
    assert 'id="column-mapping"' in page.text
    answer = await client.post(
        "/leads/import/mapping", data=_mapping(_token(page.text), business_name="Firma")
    )
    assert answer.status_code == 200
    assert "<html" in answer.text
    assert "data-job-state=" in answer.text


def test_the_reader_error_names_the_browser_form_and_the_map_option() -> None:
    with pytest.raises(ImportFileError) as caught:
        resolve_columns(["Firma", "Stadt"], {})
    assert "in the browser" in str(caught.value)
    assert "--map business_name=Company" in str(caught.value)


def test_the_form_offers_every_field_the_reader_can_fill() -> None:
    assert set(FIELD_LABELS) == set(HEADER_ALIASES)


@pytest.fixture
async def served(runtime) -> AsyncIterator[str]:
    """The app with its job runner under uvicorn on a free loopback port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime, run_background=True), log_config=None, access_log=False, lifespan="on"
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):  # uvicorn says it started only through this flag
        if server.started:
            break
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    await task


@pytest.mark.browser
async def test_mapping_columns_in_chromium(served, runtime, tmp_path) -> None:
    csv_file = tmp_path / "Praxen.csv"
    csv_file.write_bytes(GERMAN)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{served}/leads")
            await page.click("details.import summary")
            await page.set_input_files("#import-form input[type=file]", str(csv_file))
            await page.click("#import-form button[type=submit]")
            form = page.locator("#import-status #column-mapping")
            await form.wait_for()
            assert page.url == f"{served}/leads"  # swapped in, not a new page
            assert await page.locator("#column-email").input_value() == "E-Mail"
            assert "Zahnarzt Müller" in await form.locator(".mapping-preview").inner_text()
            # One column for two fields: the form comes back with the sentence and the choices.
            await page.select_option("#column-business_name", "Firma")
            await page.select_option("#column-city", "Firma")
            await form.get_by_role("button", name="Import with these columns").click()
            await (
                page.locator("#column-mapping .mapping-problems")
                .get_by_text("choose it for one field only")
                .wait_for()
            )
            assert await page.locator("#column-business_name").input_value() == "Firma"
            await page.select_option("#column-city", "Stadt")
            await page.get_by_role("button", name="Import with these columns").click()
            job = page.locator("#import-status .job")
            await page.locator('#import-status .job[data-job-state="succeeded"]').wait_for(timeout=20_000)
            assert "2 problems reported" in await job.inner_text()
            # The finished job reloads the table: the new leads appear without a reload.
            await page.locator("#results").get_by_text("Zahnarzt Müller").wait_for(timeout=5_000)
        finally:
            await browser.close()
    lead = next(
        lead for lead in (await runtime.leads.list()).items if lead.business_name == "Zahnarzt Müller"
    )
    assert lead.city == "Berlin"
