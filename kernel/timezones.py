"""Finding a recipient's timezone: from the lead's coordinates, else its country, else a default.

Coordinates go through timezonefinder (offline polygons; loaded once, on first use).
A country maps to the first zone the system's ``zone.tab`` lists for it, which for
countries with several zones is the most populous region's; a mailbox's own
timezone is the last resort.
"""

from __future__ import annotations

import functools
import os
import threading
import zoneinfo
from pathlib import Path
from typing import Any

from .models import Lead

_finder_lock = threading.Lock()
_finder: Any = None


def _timezone_finder() -> Any:
    global _finder
    with _finder_lock:
        if _finder is None:
            from timezonefinder import TimezoneFinder

            _finder = TimezoneFinder()
        return _finder


def timezone_at(latitude: float, longitude: float) -> str | None:
    """The IANA timezone at a point; None at sea or for impossible coordinates."""
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    try:
        return _timezone_finder().timezone_at(lat=latitude, lng=longitude)
    except ValueError:
        return None


@functools.cache
def _country_zones() -> dict[str, str]:
    zones: dict[str, str] = {}
    for directory in zoneinfo.TZPATH:
        path = Path(directory) / "zone.tab"
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("#") or not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) >= 3:
                zones.setdefault(fields[0].upper(), fields[2])
        break
    return zones


def country_timezone(country_code: str | None) -> str | None:
    """The main timezone of a country (ISO 3166 alpha-2); None when unknown."""
    if not country_code:
        return None
    return _country_zones().get(country_code.strip().upper())


@functools.cache
def local_timezone() -> str:
    """This machine's IANA timezone (``TZ``, ``/etc/timezone``, ``/etc/localtime``), else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    timezone_file = Path("/etc/timezone")
    if timezone_file.is_file():
        candidates.append(timezone_file.read_text(encoding="utf-8").strip())
    localtime = Path("/etc/localtime")
    if localtime.is_symlink():
        target = str(localtime.resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    for name in candidates:
        if name and is_timezone(name):
            return name
    return "UTC"


def is_timezone(name: str) -> bool:
    """Whether ``name`` is a known IANA timezone."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def recipient_timezone(lead: Lead, default: str | None = None) -> str:
    """The lead's timezone: from its coordinates, else its country, else ``default``, else this machine's."""
    if lead.latitude is not None and lead.longitude is not None:
        found = timezone_at(lead.latitude, lead.longitude)
        if found:
            return found
    return country_timezone(lead.country_code) or default or local_timezone()
