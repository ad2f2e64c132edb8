"""The built-in geocoders: an offline gazetteer, then Nominatim.

The gazetteer (GeoNames: every town of 15,000 people or more) answers most
searches without the network. Places it does not know go to Nominatim, whose usage
policy asks for an identifying User-Agent, at most one request a second, and caching;
answers (found or not) are kept in ``<data dir>/cache/nominatim.json``.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import httpx

from outreach.kernel import (
    DiscoveryError,
    GeoPlace,
    Town,
    load_gazetteer,
    place_key,
    private_dir,
    write_private,
)


def lookup(text: str) -> GeoPlace | None:
    """The most populous town named in ``text`` that fits its region/country, or None."""
    gazetteer = load_gazetteer()
    parts = [p.strip() for p in text.split(",") if p.strip()]
    attempts = [(parts[0], parts[1:])] if parts else []
    words = text.replace(",", " ").split()
    if len(parts) == 1 and len(words) > 1:
        # "Austin TX": the last word may be the region.
        attempts.append((" ".join(words[:-1]), words[-1:]))
    for name, qualifiers in attempts:
        candidates = gazetteer.towns_named(name, qualifiers)
        if candidates:
            return _gazetteer_place(max(candidates, key=lambda t: t.population))
    return None


def _gazetteer_place(town: Town) -> GeoPlace:
    population = town.population or 15000
    region = f", {town.region}" if town.country_code == "US" else ""
    return GeoPlace(
        name=f"{town.name}{region}, {town.country_code}",
        latitude=town.latitude,
        longitude=town.longitude,
        country_code=town.country_code,
        radius_km=max(3.0, min(40.0, math.sqrt(population / 1000))),
        source="gazetteer",
    )


class GazetteerGeocoder:
    """Towns of 15,000 people or more, offline (GeoNames)."""

    name = "gazetteer"
    order = 10

    async def geocode(self, text: str, *, language: str = "en") -> GeoPlace | None:
        """The town ``text`` names, or None; the index is built once, off the event loop."""
        return await asyncio.to_thread(lookup, text)


def _user_agent(contact: str | None) -> str:
    try:
        release = version("outreach")
    except PackageNotFoundError:
        release = "dev"
    return f"outreach/{release} ({contact or 'local-first outreach tool; no contact configured'})"


class NominatimGeocoder:
    """OpenStreetMap's Nominatim (or a compatible server), cached and rate-limited."""

    name = "nominatim"
    order = 50

    def __init__(
        self, url: str, cache_file: Path, *, contact: str | None = None, interval: float = 1.0
    ) -> None:
        self.url = url.rstrip("/")
        self.cache_file = cache_file
        self.contact = contact
        self.interval = interval
        self._lock = asyncio.Lock()
        self._last = 0.0

    def _load_cache(self) -> dict[str, Any]:
        try:
            return json.loads(self.cache_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _save(self, key: str, value: dict[str, Any] | None) -> None:
        cache = self._load_cache()
        cache[key] = value
        # The places asked about are the leads' addresses: the cache is private to the user.
        private_dir(self.cache_file.parent)
        write_private(self.cache_file, json.dumps(cache, ensure_ascii=False).encode("utf-8"))

    async def geocode(self, text: str, *, language: str = "en") -> GeoPlace | None:
        """The first Nominatim match for ``text``, from the cache when it was asked before."""
        key = f"{language}|{place_key(text)}"
        cache = self._load_cache()
        if key in cache:
            return _place(cache[key])
        async with self._lock:
            # At most one request per interval, from this process.
            wait = self._last + self.interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                answer = await self._ask(text, language)
            finally:
                self._last = time.monotonic()
        self._save(key, answer)
        return _place(answer)

    async def _ask(self, text: str, language: str) -> dict[str, Any] | None:
        params = {"q": text, "format": "jsonv2", "limit": "1", "addressdetails": "1"}
        params["accept-language"] = language
        if self.contact and "@" in self.contact:
            params["email"] = self.contact
        try:
            async with httpx.AsyncClient(
                timeout=15, headers={"User-Agent": _user_agent(self.contact)}, trust_env=False
            ) as client:
                response = await client.get(f"{self.url}/search", params=params)
        except httpx.HTTPError as exc:
            raise DiscoveryError(f"{self.url} could not be reached ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise DiscoveryError(f"{self.url} answered HTTP {response.status_code}")
        try:
            items = response.json()
        except ValueError:
            raise DiscoveryError(f"{self.url} did not answer with JSON") from None
        if not isinstance(items, list) or not items:
            return None
        item = items[0]
        box = item.get("boundingbox") or []
        return {
            "name": item.get("display_name") or text,
            "latitude": float(item["lat"]),
            "longitude": float(item["lon"]),
            "country_code": ((item.get("address") or {}).get("country_code") or "").upper() or None,
            # Nominatim orders the box south, north, west, east.
            "bbox": [float(box[0]), float(box[2]), float(box[1]), float(box[3])] if len(box) == 4 else None,
        }


def _place(value: dict[str, Any] | None) -> GeoPlace | None:
    if not value:
        return None
    bbox = value.get("bbox")
    return GeoPlace(
        name=value["name"],
        latitude=value["latitude"],
        longitude=value["longitude"],
        country_code=value.get("country_code"),
        bbox=tuple(bbox) if bbox else None,  # type: ignore[arg-type]
        source="nominatim",
    )
