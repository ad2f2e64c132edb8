"""``outreach discover`` and the Discover page, against the local Maps fixture."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from maps_fixture import MapsFixture

from outreach.web import create_app

AUSTIN = "30.2672,-97.7431"
HX = {"HX-Request": "true"}


@pytest.fixture(scope="module")
def maps():
    with MapsFixture() as server:
        yield server


def _plugin_options(server_url: str) -> dict[str, object]:
    return {
        "base_url": server_url,
        "pause": [0, 0],
        "timeout": 2,
        "scroll_wait": 0.4,
        "idle_scrolls": 2,
        "nominatim_url": "",
    }


def _config(tmp_path: Path, base_url: str) -> Path:
    options = _plugin_options(base_url)
    lines = ["[plugins.google_maps]"] + [f"{key} = {json.dumps(value)}" for key, value in options.items()]
    path = tmp_path / "outreach.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def outreach(tmp_path: Path, base_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "outreach.web.cli", "--config", str(_config(tmp_path, base_url))]
    command += ["--data-dir", str(tmp_path / "data"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_discover_from_the_command_line(maps, tmp_path) -> None:
    result = outreach(tmp_path, maps.url, "discover", "dentists", "--near", AUSTIN, "--max", "5")
    assert result.returncode == 0, result.stderr
    assert "Found 5 place(s): 5 new lead(s)" in result.stdout
    listed = outreach(tmp_path, maps.url, "leads", "list", "--json")
    leads = json.loads(listed.stdout)
    assert len(leads) == 5
    assert {lead["lifecycle_state"] for lead in leads} == {"discovered"}
    assert all(lead["maps_url"].startswith("https://www.google.com/maps/place/") for lead in leads)
    again = outreach(tmp_path, maps.url, "discover", "dentists", "--near", AUSTIN, "--max", "5", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["counters"].get("created", 0) == 0


def test_bad_input_is_a_sentence_and_a_non_zero_exit(maps, tmp_path) -> None:
    with socket_port() as closed_port:
        cases = [
            (maps.url, ("discover", "  ", "--near", AUSTIN), "The search is empty"),
            (maps.url, ("discover", "dentists", "--near", AUSTIN, "--max", "0"), "must be at least 1"),
            (maps.url, ("discover", "dentists", "--near", "Qqqzzx Unknownville"), "Could not find the place"),
            (
                f"http://127.0.0.1:{closed_port}",
                ("discover", "dentists", "--near", AUSTIN),
                "cannot be reached",
            ),
        ]
        for base_url, args, expected in cases:
            result = outreach(tmp_path, base_url, *args)
            assert result.returncode != 0, args
            assert expected in result.stderr, (args, result.stderr)
            assert "Traceback" not in result.stderr


class socket_port:
    """A loopback port that nothing listens on."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        return None


# -- the Discover page -------------------------------------------------------------------


@pytest.fixture
async def web(maps, make_settings, make_runtime):
    settings = make_settings(plugins={"google_maps": _plugin_options(maps.url)})
    rt = await make_runtime(settings, load_entry_points=False)
    async with AsyncTestClient(app=create_app(rt)) as client:
        yield client, rt


def _token(html: str) -> str:
    match = re.search(r'"x-csrftoken": "([^"]+)"', html)
    assert match
    return match.group(1)


async def test_the_discover_page_queues_a_job_and_shows_its_progress(web) -> None:
    client, rt = web
    page = await client.get("/discover")
    assert page.status_code == 200
    assert '<a href="/discover" aria-current="page">Discover</a>' in page.text
    assert '<option value="google_maps" selected>Google Maps</option>' in page.text
    assert '<option value="csv">CSV file</option>' in page.text
    token = _token(page.text)

    refused = await client.post("/discover", data={"query": "dentists"}, headers=HX)
    assert refused.status_code == 403

    queued = await client.post(
        "/discover",
        data={"query": "dentists", "near": AUSTIN, "max": "4", "source": "google_maps"},
        headers={**HX, "x-csrftoken": token},
    )
    assert queued.status_code == 200
    assert "<html" not in queued.text
    job_id = int(re.search(r'data-job="(\d+)"', queued.text).group(1))
    assert f'hx-get="/discover/{job_id}"' in queued.text
    assert 'hx-trigger="load delay:1s"' in queued.text
    assert (await rt.jobs.get(job_id)).state == "queued"

    await rt.runner.run_now(job_id)  # what the serve process's runner does
    done = await client.get(f"/discover/{job_id}", headers=HX)
    assert 'data-state="succeeded"' in done.text
    assert "hx-get" not in done.text  # polling stops when the job ends
    assert '<dd data-counter="found">4</dd>' in done.text
    assert '<dd data-counter="created">4</dd>' in done.text
    assert 'href="/leads?state=discovered"' in done.text
    leads = await client.get("/leads?state=discovered")
    assert leads.text.count('data-state="discovered"') == 4


async def test_the_discover_page_refuses_bad_input_with_a_message(web) -> None:
    client, rt = web
    token = _token((await client.get("/discover")).text)
    headers = {**HX, "x-csrftoken": token}
    empty = await client.post("/discover", data={"query": " "}, headers=headers)
    assert empty.status_code == 400
    assert empty.headers["hx-retarget"] == "#flash"
    assert "The search is empty" in empty.text
    zero = await client.post("/discover", data={"query": "dentists", "max": "0"}, headers=headers)
    assert "must be at least 1" in zero.text
    words = await client.post("/discover", data={"query": "dentists", "max": "many"}, headers=headers)
    assert "&#39;many&#39; is not a number" in words.text
    assert await rt.jobs.list() == []

    plain = await client.post(
        "/discover",
        data={"query": "dentists", "near": AUSTIN, "_csrf_token": token},
        follow_redirects=False,
    )
    assert plain.status_code == 303
    job_id = int(plain.headers["location"].rsplit("/", 1)[1])
    shown = await client.get(plain.headers["location"])
    assert shown.text.startswith("<!doctype html>")
    assert f'hx-get="/discover/{job_id}"' in shown.text
