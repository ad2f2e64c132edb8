"""Finding a recipient's timezone: from the lead's coordinates, else its city, else its country.

Coordinates go through tzfpy (offline polygons, compiled in; loaded once, on first use).
A city (the lead's ``city``, else the town its ``location`` address names) goes
through the offline gazetteer (:mod:`.gazetteer`), narrowed by the lead's country
and by a US state the address names: "Austin, TX" is in America/Chicago even when
the lead has no coordinates. A country maps to the first zone the system's
``zone.tab`` lists for it, which for countries with several zones is the most
populous region's; a mailbox's own timezone is the last resort.
"""

from __future__ import annotations

import functools
import os
import threading
import zoneinfo
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .gazetteer import Gazetteer, Town, load_gazetteer
from .models import Lead

_finder_lock = threading.Lock()
_finder: Any = None


def _timezone_finder() -> Any:
    global _finder
    with _finder_lock:
        if _finder is None:
            import tzfpy

            tzfpy.get_tz(0.0, 0.0)  # its polygons are read on the first lookup: do that now
            _finder = tzfpy
        return _finder


def timezone_at(latitude: float, longitude: float) -> str | None:
    """The IANA timezone at a point (an ``Etc/GMT`` zone at sea); None for impossible coordinates."""
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    zones = _timezone_finder().get_tzs(longitude, latitude)
    # Where two zones' polygons overlap both are in use, as Xinjiang keeps its own time
    # (Asia/Urumqi) beside the official Beijing time: the local one is the likelier clock.
    local = [zone for zone in zones if zone not in _main_zones()]
    return (local or zones or [None])[0]


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


@functools.cache
def _main_zones() -> frozenset[str]:
    return frozenset(_country_zones().values())


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


def city_timezone(lead: Lead) -> str | None:
    """The timezone of the lead's city (its ``city``, else the town its ``location`` names), or None."""
    if not (lead.city or "").strip() and not (lead.location or "").strip():
        return None  # nothing to look up: the gazetteer is not even loaded
    town = _town_of(lead, load_gazetteer())
    if town is None or not town.timezone or not is_timezone(town.timezone):
        return None
    return town.timezone


def _town_of(lead: Lead, gazetteer: Gazetteer) -> Town | None:
    """The gazetteer's town for the lead's ``city`` (with the state its address names), else its address.

    A bare name counts only with a country or a US state: "Springfield" or "Richmond"
    alone is in several countries, and the mailbox's timezone is the better guess then.
    """
    city, location = (lead.city or "").strip(), (lead.location or "").strip()
    find = functools.partial(gazetteer.town_in_address, country_code=lead.country_code, worldwide=False)
    if city:
        # The address may name the state: "Portland" with "1 Main St, Portland, OR 97201".
        regions = gazetteer.qualifiers_in(location) if location else []
        town = find(city, qualifiers=regions) or (find(city) if regions else None)
        if town is not None:
            return town
    return find(location) if location else None


def preload_timezones(leads: Iterable[Lead]) -> None:
    """Load now the data :func:`recipient_timezone` will read for ``leads``: polygons, gazetteer.

    Each takes about a second to load the first time; an async caller runs this in a thread
    so that its event loop does not stall on the first lead.
    """
    with_point = without_point = False
    for lead in leads:
        if lead.latitude is not None and lead.longitude is not None:
            with_point = True
        elif lead.city or lead.location:
            without_point = True
    if with_point:
        _timezone_finder()
    if without_point:
        load_gazetteer()


def recipient_timezone(lead: Lead, default: str | None = None) -> str:
    """The lead's timezone: its coordinates', else its city's, its country's, ``default``, this machine's."""
    if lead.latitude is not None and lead.longitude is not None:
        found = timezone_at(lead.latitude, lead.longitude)
        if found:
            return found
    return city_timezone(lead) or country_timezone(lead.country_code) or default or local_timezone()
