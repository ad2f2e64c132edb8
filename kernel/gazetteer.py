"""The offline gazetteer: every town of 15,000 people or more (GeoNames), by name.

A town comes with its country, its region (the US state for US towns), its population
and its timezone. The data ships in ``data/`` (built by ``scripts/build_gazetteer.py``;
GeoNames, CC BY 4.0): it is read and indexed once per process, by whichever thread
asks first, and never at import. The google_maps geocoder finds places in it, and
:mod:`.timezones` finds a lead's city.

Names are compared by :func:`place_key` (case and dots ignored). A qualifier is a
country (code, name or a common alias such as "USA") or a US state (code or name),
as written after a town: "Portland, OR", "Paris, France".
"""

from __future__ import annotations

import functools
import gzip
import math
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from importlib.resources import files

import msgspec

#: Ways people write a country that geonames does not list as its name.
_COUNTRY_ALIASES = {"usa": "US", "us": "US", "u.s.": "US", "u.s.a.": "US", "uk": "GB", "england": "GB"}


class Country(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """A country as the gazetteer names it: ISO 3166 alpha-2 code, English name, alpha-3 code."""

    code: str
    name: str
    iso3: str


class Town(msgspec.Struct, frozen=True, gc=False):
    """One town of the gazetteer; ``region`` is geonames' admin1 code (the state for US towns)."""

    geonameid: int
    name: str
    latitude: float
    longitude: float
    country_code: str
    region: str | None
    population: int
    timezone: str | None


def place_key(text: str) -> str:
    """``text`` as the gazetteer compares names: case-folded, dots as spaces, spaces collapsed."""
    return " ".join(text.casefold().replace(".", " ").split())


class Gazetteer:
    """Towns by name and alternate name, and the qualifiers that narrow a name down."""

    def __init__(
        self,
        towns: list[Town],
        by_name: Mapping[str, int | list[int]],
        qualifiers: dict[str, frozenset[str]],
    ) -> None:
        self.towns = towns
        # Each name's towns as their places in ``towns`` (in that order), turned into
        # towns only when asked: building 340,000 lists up front would double the load.
        self._by_name = by_name
        self._qualifiers = qualifiers

    def _named(self, key: str) -> list[Town]:
        found = self._by_name.get(key)
        if found is None:
            return []
        if isinstance(found, int):
            return [self.towns[found]]
        return [self.towns[number] for number in found]

    def is_qualifier(self, text: str) -> bool:
        """Whether ``text`` names a country or a US state."""
        return place_key(text) in self._qualifiers

    def fits(self, town: Town, qualifier: str) -> bool:
        """Whether ``town`` is in the country or US state ``qualifier`` names."""
        for meaning in self._qualifiers.get(place_key(qualifier), ()):
            kind, _, value = meaning.partition(":")
            if kind == "country" and town.country_code == value:
                return True
            if kind == "admin" and f"{town.country_code}:{town.region}" == value:
                return True
        return False

    def country_near(self, latitude: float, longitude: float, within_km: float = 100.0) -> str | None:
        """The country of the town nearest a point (None when no town is that close).

        A search near ``"lat,lng"`` names no country; national phone numbers still need one.
        """
        best, best_km = None, within_km
        scale = math.cos(math.radians(latitude))
        for town in self.towns:
            east_km = (town.longitude - longitude) * 111.32 * scale
            km = math.hypot((town.latitude - latitude) * 111.32, east_km)
            if km < best_km:
                best, best_km = town.country_code, km
        return best

    def towns_named(
        self, name: str, qualifiers: Sequence[str] = (), *, country_code: str | None = None
    ) -> list[Town]:
        """The towns called ``name`` (or with it as an alternate name) that fit every qualifier."""
        country = country_code.strip().upper() if country_code else None
        return [
            town
            for town in self._named(place_key(name))
            if (country is None or town.country_code == country)
            and all(self.fits(town, q) for q in qualifiers)
        ]

    def find_town(
        self, name: str, qualifiers: Sequence[str] = (), *, country_code: str | None = None
    ) -> Town | None:
        """The likeliest town called ``name`` that fits: its own name first, then the most populous."""
        key = place_key(name)
        candidates = self.towns_named(name, qualifiers, country_code=country_code)
        # Alternate names include old and colloquial ones ("Concordia" is one of El Paso's),
        # so a town really called ``name`` wins over a bigger one merely also known by it.
        return max(candidates, key=lambda t: (place_key(t.name) == key, t.population), default=None)

    def town_in_address(
        self,
        text: str,
        *,
        country_code: str | None = None,
        qualifiers: Sequence[str] = (),
        worldwide: bool = True,
    ) -> Town | None:
        """The town an address names ("1 Congress Ave, Austin, TX 78701"), narrowed by what follows it.

        ``qualifiers`` are added to the ones the address holds (a state known from elsewhere).
        Unless ``worldwide``, a name with neither ``country_code`` nor a qualifier matches nothing.
        """
        for name, found in self._readings(address_parts(text)):
            narrowed = [*found, *qualifiers]
            if not (worldwide or country_code or narrowed):
                continue
            town = self.find_town(name, narrowed, country_code=country_code)
            if town is not None:
                return town
        return None

    def qualifiers_in(self, text: str) -> list[str]:
        """The countries and US states an address names ("TX" in "1 Congress Ave, Austin, TX 78701")."""
        found = []
        for part in address_parts(text):
            if self.is_qualifier(part):
                found.append(part)
                continue
            town, _, last = part.rpartition(" ")
            # "Austin TX", but not the "St" (São Tomé) of "Main St": the rest must be a town.
            if town and self.is_qualifier(last) and place_key(town) in self._by_name:
                found.append(last)
        return found

    def _readings(self, parts: list[str]) -> Iterator[tuple[str, list[str]]]:
        """Ways to read address parts as a town and its qualifiers, likeliest first."""
        is_qualifier = [self.is_qualifier(part) for part in parts]

        def after(i: int) -> list[str]:
            return [part for part, q in zip(parts[i + 1 :], is_qualifier[i + 1 :], strict=True) if q]

        # The town is the last part that is not a country or a state: streets come first.
        for i in reversed(range(len(parts))):
            if is_qualifier[i]:
                continue
            yield parts[i], after(i)
            town, _, last = parts[i].rpartition(" ")
            if town and self.is_qualifier(last):
                yield town, [last, *after(i)]  # "Austin TX" (no comma)
            if town and last.isalpha() and last.isupper() and len(last) <= 3:
                yield town, after(i)  # a region code that is no qualifier: "Sydney NSW", "Torino TO"
        # "New York, USA", "Singapore": a state's or a country's name may be a town's too.
        for i, part in enumerate(parts):
            if is_qualifier[i]:
                yield part, after(i)


def address_parts(text: str) -> list[str]:
    """The comma-separated parts of an address without the words holding digits (numbers, postcodes)."""
    parts = []
    for part in text.split(","):
        words = [word for word in part.split() if not any(ch.isdigit() for ch in word)]
        if words:
            parts.append(" ".join(words))
    return parts


_LOCK = threading.Lock()
_LOADED: Gazetteer | None = None


def load_gazetteer() -> Gazetteer:
    """The gazetteer, read on the first call (a quarter of a second), then kept."""
    global _LOADED
    if _LOADED is None:
        with _LOCK:
            # Checked again under the lock: a second thread must not read the file twice.
            if _LOADED is None:
                _LOADED = _load()
    return _LOADED


class _Towns(msgspec.Struct, gc=False):
    """The layout of ``data/gazetteer.json.gz`` (see ``scripts/build_gazetteer.py``)."""

    towns: list[tuple[int, str, float, float, str, str | None, int, str | None]]
    names: dict[str, int | list[int]]


class _Countries(msgspec.Struct, gc=False):
    """The layout of ``data/countries.json``."""

    countries: list[Country]
    us_states: list[tuple[str, str]]


def _data(name: str) -> bytes:
    return files(__package__).joinpath("data", name).read_bytes()


@functools.cache
def _country_tables() -> _Countries:
    return msgspec.json.decode(_data("countries.json"), type=_Countries)


def countries() -> list[Country]:
    """Every country GeoNames lists, in ISO code order (a small file, read once)."""
    return list(_country_tables().countries)


def _load() -> Gazetteer:
    data = msgspec.json.decode(gzip.decompress(_data("gazetteer.json.gz")), type=_Towns)
    towns = [Town(*row) for row in data.towns]
    tables = _country_tables()
    return Gazetteer(towns, data.names, _qualifiers(tables.countries, tables.us_states))


def _qualifiers(countries: Iterable[Country], states: Iterable[tuple[str, str]]) -> dict[str, frozenset[str]]:
    meanings: dict[str, set[str]] = {}

    def add(keys: Iterable[str], meaning: str) -> None:
        for key in keys:
            if key:
                meanings.setdefault(place_key(key), set()).add(meaning)

    for country in countries:
        add((country.code, country.name, country.iso3), f"country:{country.code}")
    for alias, code in _COUNTRY_ALIASES.items():
        add((alias,), f"country:{code}")
    for code, name in states:
        add((code, name), f"admin:US:{code}")
    return {key: frozenset(values) for key, values in meanings.items()}


def country_near(latitude: float, longitude: float, within_km: float = 100.0) -> str | None:
    """:meth:`Gazetteer.country_near` of the shipped gazetteer (loaded on first use: call it off the loop)."""
    return load_gazetteer().country_near(latitude, longitude, within_km)
