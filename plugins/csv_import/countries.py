"""A country column as people fill it in ("Germany", "DEU", "USA", "Deutschland") as an ISO code."""

from __future__ import annotations

import functools
import unicodedata

from outreach.kernel import countries

#: Names and abbreviations in common use that the GeoNames English names do not cover.
ALIASES = {
    "usa": "US",
    "u s a": "US",
    "us": "US",
    "united states of america": "US",
    "america": "US",
    "uk": "GB",
    "u k": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "deutschland": "DE",
    "osterreich": "AT",
    "schweiz": "CH",
    "suisse": "CH",
    "svizzera": "CH",
    "espana": "ES",
    "italia": "IT",
    "nederland": "NL",
    "holland": "NL",
    "the netherlands": "NL",
    "belgie": "BE",
    "belgique": "BE",
    "polska": "PL",
    "brasil": "BR",
    "mexico": "MX",
    "danmark": "DK",
    "sverige": "SE",
    "norge": "NO",
    "suomi": "FI",
    "ceska republika": "CZ",
    "czechia": "CZ",
    "magyarorszag": "HU",
    "hellas": "GR",
    "turkiye": "TR",
    "south korea": "KR",
    "korea": "KR",
    "russia": "RU",
}


def _key(text: str) -> str:
    """Lower case, accents and punctuation dropped: "Österreich" and "osterreich" are one key."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    letters = "".join(c if c.isalnum() else " " for c in decomposed if not unicodedata.combining(c))
    return " ".join(letters.split())


@functools.cache
def _names() -> dict[str, str]:
    # The gazetteer's country table (a small file) is read only when a file names countries.
    names: dict[str, str] = {}
    for country in countries():
        names[_key(country.name)] = country.code
        names[_key(country.iso3)] = country.code
        names[_key(country.code)] = country.code
    names.update(ALIASES)
    return names


def country_code(value: str) -> str | None:
    """The ISO 3166 alpha-2 code ``value`` means, or None when it names no country outreach knows."""
    return _names().get(_key(value))
