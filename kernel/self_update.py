"""Replacing the desktop binary with a newer release, and going back to the previous one.

``outreach self-update`` downloads the release for this platform from ``[updates]
download_url`` (``{version}`` and ``{platform}`` filled in), checks it against the
SHA-256 published beside it (the same address with ``.sha256``, as ``sha256sum``
writes it), and swaps it in; the binary it replaces stays beside it as
``<name>.previous``. ``--rollback`` swaps them back, and restores the database as it was
before the newer version first migrated it (:func:`backup_before_migrating` keeps that
copy), since the older binary cannot read a schema it does not know.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import sqlite3
import stat
import sys
from pathlib import Path

from .errors import ConfigError

_SHA256 = re.compile(r"\b([0-9a-fA-F]{64})\b")


def platform_tag() -> str:
    """This machine as release files name it: ``linux-x86_64``, ``macos-arm64``, ``windows-x86_64``."""
    system = {"darwin": "macos", "win32": "windows"}.get(sys.platform, sys.platform.rstrip("0123456789"))
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "x64": "x86_64", "aarch64": "arm64"}.get(machine, machine)
    return f"{system}-{machine}"


def previous_path(binary: Path) -> Path:
    """Where the binary a self-update replaced is kept."""
    return binary.with_name(binary.name + ".previous")


def database_backup_path(database: Path, version: str) -> Path:
    """The copy of ``database`` taken before version ``version`` first migrated it."""
    return database.with_name(f"{database.name}.before-{version}")


def database_backups(database: Path) -> list[Path]:
    """Every copy :func:`backup_before_migrating` kept of ``database``."""
    return sorted(database.parent.glob(f"{database.name}.before-*"))


def backup_before_migrating(database: Path, version: str) -> Path | None:
    """Copy ``database`` (consistently, through SQLite's backup API) before ``version`` migrates it.

    Only an existing database is copied, once per version: the copy is the schema the
    version before understood.
    """
    target = database_backup_path(database, version)
    if not database.exists() or database.stat().st_size == 0 or target.exists():
        return None
    partial = target.with_name(target.name + ".partial")
    source, copy = sqlite3.connect(database), sqlite3.connect(partial)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    os.chmod(partial, 0o600)
    os.replace(partial, target)
    return target


def _expected_digest(text: str, url: str) -> str:
    found = _SHA256.search(text)
    if found is None:
        raise ConfigError(
            f"{url} holds no SHA-256 checksum; the release cannot be verified, so nothing was changed."
        )
    return found.group(1).lower()


def install_download(binary: Path, downloaded: Path, expected_sha256: str) -> Path:
    """Swap ``downloaded`` in for ``binary`` once its SHA-256 matches; the kept previous binary."""
    digest = hashlib.sha256()
    with downloaded.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected_sha256.lower():
        downloaded.unlink(missing_ok=True)
        raise ConfigError(
            f"The downloaded file's SHA-256 is {digest.hexdigest()}, not the published {expected_sha256}: "
            "it was discarded and nothing was changed."
        )
    mode = binary.stat().st_mode if binary.exists() else 0o755
    os.chmod(downloaded, stat.S_IMODE(mode) | stat.S_IXUSR)
    previous = previous_path(binary)
    # Renaming works on a running executable, on Windows too; replacing it in place would not.
    if binary.exists():
        os.replace(binary, previous)
    os.replace(downloaded, binary)
    return previous


async def self_update(binary: Path, url_template: str, version: str) -> Path:
    """Download release ``version``, verify it and put it in place of ``binary``; the kept previous one."""
    import httpx

    url = url_template.format(version=version, platform=platform_tag())
    partial = binary.with_name(binary.name + ".download")
    async with httpx.AsyncClient(timeout=60, follow_redirects=True) as client:
        try:
            checksum = await client.get(url + ".sha256")
            checksum.raise_for_status()
            expected = _expected_digest(checksum.text, url + ".sha256")
            async with client.stream("GET", url) as answer:
                answer.raise_for_status()
                with partial.open("wb") as handle:
                    async for chunk in answer.aiter_bytes():
                        handle.write(chunk)
        except httpx.HTTPError as exc:
            partial.unlink(missing_ok=True)
            raise ConfigError(f"Could not download {url} ({exc}); nothing was changed.") from None
    return install_download(binary, partial, expected)


def rollback(binary: Path, database: Path | None, current_version: str) -> list[str]:
    """Put the previous binary back (the newer one becomes the ``.previous``); what was done.

    The database goes back to the copy taken before ``current_version`` first migrated
    it, when there is one.
    """
    previous = previous_path(binary)
    if not previous.exists():
        raise ConfigError(f"There is no previous binary at {previous} to go back to.")
    done = []
    swap = binary.with_name(binary.name + ".swap")
    os.replace(binary, swap)
    os.replace(previous, binary)
    os.replace(swap, previous)
    done.append(f"restored the previous binary at {binary} (this one is kept at {previous})")
    if database is not None:
        backup = database_backup_path(database, current_version)
        if backup.exists():
            for suffix in ("-wal", "-shm"):
                database.with_name(database.name + suffix).unlink(missing_ok=True)
            shutil.copyfile(backup, database)
            done.append(f"restored the database as it was before {current_version} migrated it ({backup})")
    return done
