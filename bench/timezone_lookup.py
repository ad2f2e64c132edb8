"""Benchmark: timezone at a point, tzfpy vs timezonefinder, on towns of the gazetteer.

Run with ``python bench/timezone_lookup.py [--points 2000] [--seed 1]`` where both are
installed. It takes ``--points`` towns at random (points on land, where leads are) and
prints for each lookup its load time and time per lookup: timezonefinder, tzfpy's
``get_tz`` as it is, and :func:`outreach.kernel.timezones.timezone_at` (tzfpy, with the
local zone first where two overlap). Then how often the tzfpy ones agree with
timezonefinder: on the zone's name, and on the clock (the same UTC offsets in January
and July, as "Asia/Calcutta" and "Asia/Kolkata" are). A disagreement counts as on a
border when timezonefinder gives the other's zone within ``--border-km`` of the point.
Each is also compared with the zone GeoNames records for the town. ``--points 0``
takes every town.

Target: they agree on 99.5% of points or more, and the rest are on borders.
"""

from __future__ import annotations

import argparse
import math
import random
import time
import zoneinfo
from collections.abc import Callable
from datetime import datetime

from outreach.kernel.gazetteer import Town, load_gazetteer

Lookup = Callable[[float, float], str | None]


def tzfpy_lookup() -> Lookup:
    import tzfpy

    return lambda lat, lng: tzfpy.get_tz(lng, lat) or None


def outreach_lookup() -> Lookup:
    from outreach.kernel.timezones import timezone_at

    return timezone_at


def timezonefinder_lookup() -> Lookup:
    from timezonefinder import TimezoneFinder

    finder = TimezoneFinder()
    return lambda lat, lng: finder.timezone_at(lat=lat, lng=lng)


def timed(make: Callable[[], Lookup], points: list[Town]) -> tuple[float, float, list[str | None]]:
    """Load time (s), time per lookup (µs) and the zone of each point."""
    start = time.perf_counter()
    lookup = make()
    lookup(0.0, 0.0)  # a library may load its data on the first lookup
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    zones = [lookup(town.latitude, town.longitude) for town in points]
    return loaded, (time.perf_counter() - start) / len(points) * 1e6, zones


def same_clock(a: str | None, b: str | None) -> bool:
    """Whether ``a`` and ``b`` keep the same time (offsets in January and July of this year)."""
    if a is None or b is None:
        return a == b
    try:
        za, zb = zoneinfo.ZoneInfo(a), zoneinfo.ZoneInfo(b)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return a == b
    year = datetime.now().year
    days = [datetime(year, 1, 15, 12), datetime(year, 7, 15, 12)]
    return all(day.replace(tzinfo=za).utcoffset() == day.replace(tzinfo=zb).utcoffset() for day in days)


def near_border(lookup: Lookup, town: Town, other: str | None, km: float) -> bool:
    """Whether ``lookup`` gives ``other`` somewhere within ``km`` of the town (16 bearings, 4 rings)."""
    for ring in (0.25, 0.5, 0.75, 1.0):
        for step in range(16):
            bearing = step * math.pi / 8
            lat = town.latitude + ring * km / 111.32 * math.cos(bearing)
            scale = max(0.01, math.cos(math.radians(town.latitude)))
            lng = town.longitude + ring * km / (111.32 * scale) * math.sin(bearing)
            if -90 <= lat <= 90 and -180 <= lng <= 180 and lookup(lat, lng) == other:
                return True
    return False


def percent(count: int, total: int) -> str:
    return f"{100 * count / total:6.2f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=2000, help="towns to look up")
    parser.add_argument("--seed", type=int, default=1, help="which towns (the same seed, the same towns)")
    parser.add_argument("--border-km", type=float, default=10.0, help="how near a border counts as on it")
    args = parser.parse_args()
    towns = load_gazetteer().towns
    points = random.Random(args.seed).sample(towns, args.points) if args.points else towns

    lookups = {"timezonefinder": timezonefinder_lookup, "tzfpy": tzfpy_lookup, "outreach": outreach_lookup}
    results = {name: timed(make, points) for name, make in lookups.items()}
    print(f"{len(points)} towns at random (seed {args.seed})")
    print(f"{'':16}{'load':>9}{'lookup':>11}{'= GeoNames':>12}{'same clock':>12}")
    for name, (loaded, per_lookup, zones) in results.items():
        geonames = sum(zone == town.timezone for zone, town in zip(zones, points, strict=True))
        clock = sum(same_clock(zone, town.timezone) for zone, town in zip(zones, points, strict=True))
        print(
            f"{name:16}{loaded * 1000:6.0f} ms{per_lookup:8.1f} µs"
            f"{percent(geonames, len(points)):>12}{percent(clock, len(points)):>12}"
        )

    finder = timezonefinder_lookup()
    for name in ("tzfpy", "outreach"):
        compare(finder, points, results["timezonefinder"][2], results[name][2], name, args.border_km)


def compare(
    finder: Lookup,
    points: list[Town],
    reference: list[str | None],
    candidate: list[str | None],
    name: str,
    border_km: float,
) -> None:
    """Print how often ``candidate`` agrees with timezonefinder's ``reference``, and where not."""
    pairs = list(zip(points, reference, candidate, strict=True))
    total = len(pairs)
    named = sum(a == b for _, a, b in pairs)
    clock = sum(same_clock(a, b) for _, a, b in pairs)
    print(f"{name} = timezonefinder: {percent(named, total)} by name, {percent(clock, total)} by clock")
    apart = [(town, a, b) for town, a, b in pairs if not same_clock(a, b)]
    bordering = 0
    for town, a, b in apart:
        on_border = near_border(finder, town, b, border_km)
        bordering += on_border
        where = f"within {border_km:g} km of a border" if on_border else "NOT near a border"
        print(f"  {town.name}, {town.country_code} ({town.latitude}, {town.longitude}): {a} vs {b}, {where}")
    print(f"  clock disagreements: {len(apart)}, on borders: {bordering}")
    renamed = sorted({(a, b) for _, a, b in pairs if a != b and same_clock(a, b)})
    shown = ", ".join(f"{a}/{b}" for a, b in renamed[:12])
    print(f"  same clock, other name ({len(renamed)} pairs): {shown}")


if __name__ == "__main__":
    main()
