"""The update check: is there a newer release of outreach than the one running?

Off unless ``[updates] check = true``. Then, at most once a day, the running app asks
PyPI's JSON API (``{pypi_url}/outreach/json``) for the newest release, in the
background: start-up never waits for it, and being offline or any error is logged at
debug level and otherwise silent. The answer is kept in ``<data dir>/cache/updates.json``
so a restart the same day does not ask again, and the web UI shows a notice with the
release notes link while a newer release exists.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import structlog

log = structlog.get_logger("outreach.updates")

#: How long an answer is trusted before PyPI is asked again.
CHECK_EVERY = timedelta(days=1)
#: The package asked about.
PROJECT = "outreach"


class Release(msgspec.Struct, kw_only=True):
    """A release newer than the running one."""

    version: str
    notes_url: str


class _Cache(msgspec.Struct, kw_only=True):
    checked_at: datetime
    latest: str | None = None
    notes_url: str | None = None


def running_version() -> str:
    """The installed version of outreach (``0`` when its metadata cannot be read)."""
    import importlib.metadata

    try:
        return importlib.metadata.version(PROJECT)
    except importlib.metadata.PackageNotFoundError:
        return "0"


def is_newer(candidate: str, current: str) -> bool:
    """Whether release ``candidate`` is later than ``current`` (PEP 440; pre-releases never count)."""
    from packaging.version import InvalidVersion, Version

    try:
        new, old = Version(candidate), Version(current)
    except InvalidVersion:
        return False
    return not new.is_prerelease and new > old


def notes_url(info: dict[str, Any], version: str) -> str:
    """Where the release's notes are: the project's changelog link, else its PyPI page."""
    urls = info.get("project_urls") or {}
    for label, url in urls.items() if isinstance(urls, dict) else ():
        if isinstance(url, str) and label.lower().replace(" ", "") in (
            "changelog",
            "releasenotes",
            "changes",
        ):
            return url
    return f"https://pypi.org/project/{PROJECT}/{version}/"


class UpdateCheck:
    """Asks PyPI once a day (when enabled) and remembers whether a newer release exists."""

    def __init__(
        self, *, enabled: bool, pypi_url: str, cache_dir: Path, current: str | None = None, clock: Any = None
    ) -> None:
        self.enabled = enabled
        self._url = f"{pypi_url.rstrip('/')}/{PROJECT}/json"
        self._cache = cache_dir / "updates.json"
        self._current = current
        self._clock = clock or (lambda: datetime.now().astimezone())
        self._available: Release | None = None
        self._known = False

    @property
    def current(self) -> str:
        """The running version (read from the package metadata when first needed)."""
        if self._current is None:
            self._current = running_version()
        return self._current

    @current.setter
    def current(self, version: str) -> None:
        self._current = version

    @property
    def available(self) -> Release | None:
        """The newer release known, if any; the kept answer is read on first use, not at start-up."""
        if not self._known:
            self._available, self._known = (self._remembered() if self.enabled else None), True
        return self._available

    @available.setter
    def available(self, release: Release | None) -> None:
        self._available, self._known = release, True

    def _remembered(self) -> Release | None:
        cache = self._read_cache()
        if cache is None or not cache.latest or not is_newer(cache.latest, self.current):
            return None
        return Release(version=cache.latest, notes_url=cache.notes_url or notes_url({}, cache.latest))

    def _read_cache(self) -> _Cache | None:
        try:
            return msgspec.json.decode(self._cache.read_bytes(), type=_Cache)
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            return None

    def due(self) -> bool:
        """Whether to ask PyPI now: enabled, and no answer from the last day."""
        if not self.enabled:
            return False
        cache = self._read_cache()
        return cache is None or self._clock() - cache.checked_at >= CHECK_EVERY

    async def latest(self) -> tuple[str, str]:
        """Ask PyPI now: the newest release's version and its notes link (raises on any failure)."""
        import httpx

        async with httpx.AsyncClient(timeout=10, headers={"Accept": "application/json"}) as client:
            answer = await client.get(self._url)
            answer.raise_for_status()
            info = answer.json()["info"]
        version = str(info["version"])
        return version, notes_url(info, version)

    async def run(self) -> Release | None:
        """Ask PyPI if it is due; the newer release, if any. Never raises."""
        if not self.due():
            return self.available
        try:
            latest, link = await self.latest()
        except Exception as exc:  # offline, PyPI down, an unexpected answer: ask again tomorrow
            log.debug("update_check_failed", url=self._url, error=f"{type(exc).__name__}: {exc}")
            known = self._read_cache()
            self._write_cache(
                _Cache(
                    checked_at=self._clock(),
                    latest=known.latest if known else None,
                    notes_url=known.notes_url if known else None,
                )
            )
            return self.available
        self._write_cache(_Cache(checked_at=self._clock(), latest=latest, notes_url=link))
        self.available = Release(version=latest, notes_url=link) if is_newer(latest, self.current) else None
        log.debug("update_checked", latest=latest, current=self.current, newer=self.available is not None)
        return self.available

    def _write_cache(self, cache: _Cache) -> None:
        try:
            self._cache.parent.mkdir(parents=True, exist_ok=True)
            self._cache.write_text(json.dumps(msgspec.to_builtins(cache)), encoding="utf-8")
        except OSError as exc:
            log.debug("update_cache_unwritable", path=str(self._cache), error=str(exc))
