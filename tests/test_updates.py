"""The update check and the desktop self-update, against a local server that speaks PyPI's
JSON API and serves release files with their SHA-256 beside them."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from litestar.testing import AsyncTestClient

from outreach.kernel.self_update import backup_before_migrating, database_backup_path, platform_tag
from outreach.kernel.updates import UpdateCheck, is_newer
from outreach.web.app import create_app
from outreach.web.cli import cli


class Releases:
    """A PyPI-like index (``/pypi/outreach/json``) and a download area (``/files/...``)."""

    def __init__(self, latest: str) -> None:
        self.latest = latest
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(self.path)
                if self.path == "/pypi/outreach/json":
                    body = json.dumps(
                        {
                            "info": {
                                "name": "outreach",
                                "version": owner.latest,
                                "project_urls": {"Changelog": f"https://example.org/changes#{owner.latest}"},
                            },
                            "releases": {owner.latest: []},
                        }
                    ).encode()
                    self._answer(200, body, "application/json")
                elif self.path.startswith("/files/") and self.path[len("/files/") :] in owner.files:
                    self._answer(200, owner.files[self.path[len("/files/") :]], "application/octet-stream")
                else:
                    self._answer(404, b"not found", "text/plain")

            def _answer(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def publish(self, version: str, content: bytes, *, checksum: str | None = None) -> None:
        name = f"outreach-{version}-{platform_tag()}"
        self.files[name] = content
        digest = checksum or hashlib.sha256(content).hexdigest()
        self.files[name + ".sha256"] = f"{digest}  {name}\n".encode()


@pytest.fixture
def releases() -> Iterator[Releases]:
    index = Releases(latest="9.1.0")
    thread = threading.Thread(target=index.server.serve_forever, daemon=True)
    thread.start()
    yield index
    index.server.shutdown()
    index.server.server_close()


def test_versions_compare_as_releases() -> None:
    assert is_newer("0.10.0", "0.9.3")
    assert not is_newer("0.1.0", "0.1.0")
    assert not is_newer("1.0.0rc1", "0.9.0")  # a pre-release is not offered
    assert not is_newer("not a version", "0.1.0")


async def test_the_check_asks_once_a_day_and_remembers_a_newer_release(releases, tmp_path: Path) -> None:
    now = [datetime(2026, 12, 3, 9, 0, tzinfo=UTC)]
    check = UpdateCheck(
        enabled=True,
        pypi_url=f"{releases.base}/pypi",
        cache_dir=tmp_path,
        current="0.1.0",
        clock=lambda: now[0],
    )
    found = await check.run()
    assert (found.version, found.notes_url) == ("9.1.0", "https://example.org/changes#9.1.0")
    now[0] += timedelta(hours=23)
    await check.run()
    assert releases.requests.count("/pypi/outreach/json") == 1
    # A restart the same day knows without asking.
    again = UpdateCheck(enabled=True, pypi_url=f"{releases.base}/pypi", cache_dir=tmp_path, current="0.1.0")
    assert again.available.version == "9.1.0"
    now[0] += timedelta(hours=2)
    releases.latest = "0.1.0"
    assert await check.run() is None  # asked again after a day: nothing newer now
    assert releases.requests.count("/pypi/outreach/json") == 2


async def test_offline_or_off_the_check_is_silent_and_asks_nothing(releases, tmp_path: Path) -> None:
    closed = UpdateCheck(
        enabled=True, pypi_url="http://127.0.0.1:9/pypi", cache_dir=tmp_path / "a", current="0.1"
    )
    assert await closed.run() is None
    assert not closed.due()  # a failed attempt counts: at most once a day
    off = UpdateCheck(
        enabled=False, pypi_url=f"{releases.base}/pypi", cache_dir=tmp_path / "b", current="0.1"
    )
    assert await off.run() is None
    assert releases.requests == []


async def test_the_web_ui_shows_a_notice_with_the_release_notes(
    releases, make_settings, make_runtime
) -> None:
    rt = await make_runtime(make_settings(updates={"check": True, "pypi_url": f"{releases.base}/pypi"}))
    async with AsyncTestClient(app=create_app(rt)) as client:
        before = await client.get("/")
        assert "update-notice" not in before.text
        rt.updates.current = "0.0.1"
        await rt.updates.run()
        after = await client.get("/")
    assert 'id="update-notice"' in after.text
    assert "outreach 9.1.0 is out" in after.text
    assert 'href="https://example.org/changes#9.1.0"' in after.text


async def test_serving_starts_the_check_in_the_background(releases, make_settings, make_runtime) -> None:
    rt = await make_runtime(make_settings(updates={"check": True, "pypi_url": f"{releases.base}/pypi"}))
    rt.updates.current = "0.0.1"
    await rt.start_background()
    for _ in range(200):
        if rt.updates.available is not None:
            break
        await __import__("asyncio").sleep(0.02)
    await rt.close()
    assert rt.updates.available.version == "9.1.0"


@pytest.fixture
def frozen(tmp_path: Path, monkeypatch) -> Path:
    """This process as the desktop binary at a temporary path."""
    binary = tmp_path / "app" / "outreach"
    binary.parent.mkdir()
    binary.write_bytes(b"the running release")
    binary.chmod(0o755)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(binary))
    return binary


def _run(data: Path, releases: Releases, *args: str):  # type: ignore[no-untyped-def]
    config = data.parent / "outreach.toml"
    config.write_text(
        f'data_dir = "{data}"\n[updates]\npypi_url = "{releases.base}/pypi"\n'
        f'download_url = "{releases.base}/files/outreach-{{version}}-{{platform}}"\n',
        encoding="utf-8",
    )
    return CliRunner().invoke(cli, ["--config", str(config), "self-update", *args], catch_exceptions=False)


def test_self_update_installs_the_verified_release_and_rollback_puts_everything_back(
    releases, frozen: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    releases.publish("9.1.0", b"the new release")
    updated = _run(data, releases)
    assert updated.exit_code == 0, updated.output
    assert "Updated to outreach 9.1.0" in updated.output
    assert frozen.read_bytes() == b"the new release"
    assert frozen.stat().st_mode & 0o100
    assert (frozen.parent / "outreach.previous").read_bytes() == b"the running release"

    # The newer version migrated the database; the copy from before is what a rollback restores.
    database = data / "outreach.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE kept (value TEXT)")
        db.execute("INSERT INTO kept VALUES ('before')")
    from outreach.kernel.updates import running_version

    assert backup_before_migrating(database, running_version()) == database_backup_path(
        database, running_version()
    )
    with sqlite3.connect(database) as db:
        db.execute("UPDATE kept SET value = 'after'")
    rolled = _run(data, releases, "--rollback")
    assert rolled.exit_code == 0, rolled.output
    assert frozen.read_bytes() == b"the running release"
    assert (frozen.parent / "outreach.previous").read_bytes() == b"the new release"
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT value FROM kept").fetchall() == [("before",)]
    assert "Restored the database as it was before" in rolled.output


def test_a_download_whose_checksum_differs_changes_nothing(releases, frozen: Path, tmp_path: Path) -> None:
    releases.publish("9.1.0", b"tampered", checksum="0" * 64)
    result = _run(tmp_path / "data", releases)
    assert result.exit_code == 1
    assert "SHA-256" in result.output
    assert "nothing was changed" in result.output
    assert frozen.read_bytes() == b"the running release"
    assert sorted(p.name for p in frozen.parent.iterdir()) == ["outreach"]


def test_self_update_outside_the_desktop_app_says_how_to_update(releases, tmp_path: Path) -> None:
    result = _run(tmp_path / "data", releases)
    assert result.exit_code == 1
    assert "pip install --upgrade outreach" in result.output


async def test_opening_an_older_database_keeps_a_copy_once_per_version(
    make_settings, make_runtime, monkeypatch
) -> None:
    from outreach.kernel.store import engine
    from outreach.kernel.updates import running_version

    rt = await make_runtime(make_settings())
    database = rt.settings.database_path
    backup = database_backup_path(database, running_version())
    assert not backup.exists()  # a fresh database had nothing to keep
    # A newer version brings one more migration than this database has.
    known = engine.migration_ids()
    monkeypatch.setattr(engine, "migration_ids", lambda: {*known, "2099-01-01T00:00:00:000000"})
    ran = []

    async def pretend(_engine):  # type: ignore[no-untyped-def]
        ran.append(backup.exists())
        return []

    monkeypatch.setattr(engine, "_run_migrations", pretend)
    await engine.migrate(database)
    assert ran == [True]  # copied before the migration ran
    assert oct(backup.stat().st_mode & 0o777) == "0o600"
    first = backup.stat().st_mtime_ns
    await engine.migrate(database)
    assert backup.stat().st_mtime_ns == first  # once per version


async def test_an_erasure_removes_the_copies_kept_for_a_rollback(make_settings, make_runtime) -> None:
    from outreach.kernel.services import gdpr

    rt = await make_runtime(make_settings())
    database = rt.settings.database_path
    kept = database_backup_path(database, "0.0.9")
    kept.write_bytes(b"an older copy that still holds the address")
    await gdpr.erase_data(rt, address="dr.quillfeather@zanzibar.example", actor="test")
    assert not kept.exists()
