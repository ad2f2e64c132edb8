"""Phone numbers on a page, read with ``phonenumbers`` in the lead's own region.

The region comes from the lead's country code, else its address (a country name, or
a US state with its ZIP code), else the site's country-code domain. Without one,
only numbers written in international form (``+49 ...``) are read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote

import phonenumbers

from .emails import site_domain


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: How many numbers one site may contribute.
LIMIT = 10

_COUNTRIES = {
    "united states": "US",
    "usa": "US",
    "us": "US",
    "u.s.a.": "US",
    "canada": "CA",
    "mexico": "MX",
    "méxico": "MX",
    "united kingdom": "GB",
    "uk": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "ireland": "IE",
    "germany": "DE",
    "deutschland": "DE",
    "austria": "AT",
    "österreich": "AT",
    "switzerland": "CH",
    "schweiz": "CH",
    "suisse": "CH",
    "svizzera": "CH",
    "france": "FR",
    "belgium": "BE",
    "belgique": "BE",
    "belgië": "BE",
    "netherlands": "NL",
    "nederland": "NL",
    "luxembourg": "LU",
    "spain": "ES",
    "españa": "ES",
    "portugal": "PT",
    "italy": "IT",
    "italia": "IT",
    "poland": "PL",
    "polska": "PL",
    "czechia": "CZ",
    "czech republic": "CZ",
    "sweden": "SE",
    "sverige": "SE",
    "norway": "NO",
    "norge": "NO",
    "denmark": "DK",
    "danmark": "DK",
    "finland": "FI",
    "suomi": "FI",
    "greece": "GR",
    "turkey": "TR",
    "türkiye": "TR",
    "australia": "AU",
    "new zealand": "NZ",
    "south africa": "ZA",
    "india": "IN",
    "japan": "JP",
    "brazil": "BR",
    "brasil": "BR",
    "argentina": "AR",
    "chile": "CL",
    "colombia": "CO",
    "singapore": "SG",
}
_US_STATE_ZIP = re.compile(
    r"\b(?:A[KLRZ]|C[AOT]|D[CE]|FL|GA|HI|I[ADLN]|K[SY]|LA|M[ADEINOST]|N[CDEHJMVY]|O[HKR]|PA|RI|S[CD]|T[NX]|UT|"
    r"V[AT]|W[AIVY])\s+\d{5}(?:-\d{4})?\b"
)
#: Country-code domains that are sold as generic names, so they say nothing about a region.
_GENERIC_CCTLDS = _words("io co me tv ai ly fm am to cc ws gg la sh ac nu")


def region_for(country_code: str | None, location: str | None, host: str | None) -> str | None:
    """The two-letter region to read local numbers in, or None when nothing says."""
    regions = phonenumbers.SUPPORTED_REGIONS
    if country_code and country_code.strip().upper() in regions:
        return country_code.strip().upper()
    if location:
        if _US_STATE_ZIP.search(location):
            return "US"
        for part in reversed([p.strip().casefold() for p in location.split(",")]):
            if part in _COUNTRIES:
                return _COUNTRIES[part]
    if host:
        tld = site_domain(host).rsplit(".", 1)[-1].upper()
        tld = "GB" if tld == "UK" else tld
        if tld.lower() not in _GENERIC_CCTLDS and tld in regions:
            return tld
    return None


def _number(match: phonenumbers.PhoneNumber) -> dict[str, str]:
    return {
        "number": phonenumbers.format_number(match, phonenumbers.PhoneNumberFormat.E164),
        "display": phonenumbers.format_number(match, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
    }


def find_phones(pages: Iterable[tuple[str, str, list[str]]], region: str | None) -> list[dict[str, str]]:
    """Valid numbers from ``(page url, visible text, tel: links)`` triples, ``tel:`` links first.

    Each appears once (by its E.164 form) with the page it was first seen on.
    """
    found: dict[str, dict[str, str]] = {}
    pages = list(pages)
    for url, _text, tel_links in pages:
        for raw in tel_links:
            try:
                number = phonenumbers.parse(unquote(raw).strip(), region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(number):
                entry = _number(number)
                found.setdefault(entry["number"], {**entry, "how": "tel", "source": url})
    for url, text, _tel in pages:
        for window in candidate_windows(text):
            try:
                matches = list(
                    phonenumbers.PhoneNumberMatcher(window, region, leniency=phonenumbers.Leniency.VALID)
                )
            except (
                Exception
            ):  # the matcher has choked on odd text before; a page's numbers are not worth a crash
                continue
            for match in matches:
                entry = _number(match.number)
                found.setdefault(entry["number"], {**entry, "how": "text", "source": url})
    return list(found.values())[:LIMIT]


#: A run of at least six digits with the separators numbers are written with.
_DIGIT_RUN = re.compile(r"[+(]?\d(?:[\d\s().\-/\u00a0\u2010-\u2015]*\d){5,}")
#: Context kept around a run: what the matcher looks at before it, and an extension after it.
_BEFORE, _AFTER = 8, 20


def candidate_windows(text: str) -> list[str]:
    """The stretches of ``text`` that may hold a phone number, each with a little context.

    The matcher walks the whole text in Python, which cost more than fetching the page;
    a page's numbers are a few short digit runs, so only those (merged where they touch)
    are handed to it, with the characters around them it checks and an extension after.
    """
    windows: list[tuple[int, int]] = []
    for match in _DIGIT_RUN.finditer(text):
        start, end = max(0, match.start() - _BEFORE), min(len(text), match.end() + _AFTER)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return [text[start:end] for start, end in windows]
