"""The data directory is private: folders 0700, files 0600, whatever the umask, old ones narrowed."""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from litestar.testing import AsyncTestClient
from maps_fixture import MapsFixture

from outreach.kernel import DiscoveredBusiness, OutgoingMessage
from outreach.kernel.crypto import Vault
from outreach.kernel.logs import configure_logging
from outreach.web import create_app

PLACE = {
    "place_id": 4242,
    "lat": "30.1500",
    "lon": "-97.1500",
    "display_name": "Fixtureville, Travis County, Texas, United States",
    "boundingbox": ["30.1000", "30.2000", "-97.2000", "-97.1000"],
    "address": {"town": "Fixtureville", "country_code": "us"},
}


def modes(root: Path) -> dict[str, int]:
    """``root`` (as ``.``) and everything below it: relative name -> ``st_mode`` (not following links)."""
    found = {".": root.lstat().st_mode}
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            path = Path(folder) / name
            found[str(path.relative_to(root))] = path.lstat().st_mode
    return found


def loose(found: dict[str, int]) -> dict[str, str]:
    """What is neither a 0700 folder nor a 0600 file, with its permissions in octal."""
    return {
        name: oct(stat.S_IMODE(mode))
        for name, mode in found.items()
        if stat.S_IMODE(mode) != (0o700 if stat.S_ISDIR(mode) else 0o600)
    }


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask, so no mode below comes from it."""
    old = os.umask(0)
    yield
    os.umask(old)


@pytest.fixture
def file_logging() -> Iterator[None]:
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_outreach", False):
            root.removeHandler(handler)
            handler.close()


async def test_every_file_outreach_writes_in_a_fresh_data_dir_is_private(
    tmp_path, make_settings, make_runtime, open_umask, file_logging
) -> None:
    data = tmp_path / "fresh"  # not there yet: outreach creates it
    with MapsFixture(nominatim={"fixtureville": PLACE}) as maps:
        settings = make_settings(
            data_dir=str(data),
            plugins={"google_maps": {"nominatim_url": maps.url + "/nominatim", "nominatim_interval": 0}},
        )
        # A log line, and enough of them to roll the file over.
        configure_logging(settings.data_path, level="info", console_level="critical", max_bytes=2_000)
        log = structlog.get_logger("outreach.test")
        for number in range(40):
            log.info("email_sent", email_id=number)
        # The key file, the database (its -wal and -shm while it is open) and the migration lock.
        rt = await make_runtime(settings, load_entry_points=False)
        await rt.leads.upsert_discovered(
            DiscoveredBusiness(business_name="Private", email="a@b.example"), "t"
        )
        # A cache: Nominatim's answers.
        assert (await rt.geocoding.geocode("Fixtureville")).source == "nominatim"
        # An outbox message.
        await rt.plugins.senders.get("outbox").send(
            OutgoingMessage(
                email_id=1,
                message_id="<modes@outreach.local>",
                from_address="ann@example.com",
                to_address="info@acme.example",
                subject="Hello",
                text="A body in clear.",
            )
        )
        # An uploaded CSV.
        async with AsyncTestClient(app=create_app(rt)) as client:
            page = (await client.get("/leads")).text
            client.headers["x-csrftoken"] = re.search(r'"x-csrftoken": "([^"]+)"', page).group(1)
            answer = await client.post(
                "/leads/import",
                files={"file": ("leads.csv", b"name,email\nOne,one@up.example\n", "text/csv")},
                headers={"HX-Request": "true"},
            )
            assert answer.status_code == 200, answer.text

        found = modes(data)
    expected = {
        "outreach.db",
        "outreach.db-wal",
        "outreach.db-shm",
        "outreach.db.lock",
        "keys/data.key",
        "logs/outreach.log",
        "logs/outreach.log.1",
        "outbox/modes@outreach.local.eml",
        "cache/nominatim.json",
    }
    assert expected <= set(found), sorted(found)
    assert any(name.startswith("imports/") and name.endswith("leads.csv") for name in found)
    assert loose(found) == {}, found


async def test_an_older_data_dir_is_narrowed_at_start_up(tmp_path, make_settings, make_runtime) -> None:
    old_umask = os.umask(0o022)  # what older versions left: 0755 folders, 0644 files
    try:
        data = tmp_path / "old"
        for folder in ("", "logs", "outbox", "keys", "cache", "imports"):
            (data / folder).mkdir(exist_ok=True)
        (data / "keys" / "data.key").write_text(Vault.generate().to_json())
        for name in ("logs/outreach.log", "logs/outreach.log.1", "outbox/x.eml", "cache/nominatim.json"):
            (data / name).write_text("{}\n")
        (data / "imports" / "old.csv").write_text("name\nOld\n")
        (data / "notes.txt").write_text("the user's own file, not outreach's")
        # An older version still running, its database open in WAL mode: -wal and -shm exist, 0644.
        older = sqlite3.connect(data / "outreach.db")
        older.execute("PRAGMA journal_mode=WAL")
        older.execute("CREATE TABLE kept (x)")
        older.commit()
    finally:
        os.umask(old_umask)
    try:
        before = {name: stat.S_IMODE(mode) for name, mode in modes(data).items()}
        assert before["."] == 0o755
        assert before["outreach.db"] == before["outreach.db-wal"] == before["outreach.db-shm"] == 0o644

        await make_runtime(make_settings(data_dir=str(data)), load_entry_points=False)
        after = modes(data)
    finally:
        older.close()
    assert stat.S_IMODE(after.pop("notes.txt")) == 0o644  # not outreach's: left as it was
    assert {"outreach.db-wal", "outreach.db-shm", "keys/data.key", "imports/old.csv"} <= set(after)
    assert loose(after) == {}, after
