"""Reading places from the JSON Maps embeds and serves.

Two shapes carry the same place record (a long positional array, index map below):

- the place page's ``window.APP_INITIALIZATION_STATE``: among the strings in its
  ``[3]``, one (behind a ``)]}'`` guard line) decodes to an array whose ``[6]`` is the
  record; since 2026 often only a small record remains (hex id, name, coordinates);
- the ``/search?tbm=map`` answer: about 20 results in ``[0][1][1..]``, each record at ``[14]``.

Record indices: name ``[11]``, categories ``[13]``, address parts ``[2]`` (whole
``[18]``), website ``[7][0]``, phone ``[178][0][0]``, rating ``[4][7]``, review count
``[4][8]``, lat/lng ``[9][2]``/``[9][3]``, place_id ``[78]``, data id ``[10]``, plus code
``[183][2][2][0]``, address parts ``[183][1]`` (city ``[3]``, country ``[6]``), hours
``[34][1]``. Google moves these without notice, so every read is defensive.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .fields import clean, unwrap_redirect
from .result import PlaceResult

GUARD = ")]}'"
_HEX_ID = re.compile(r"^0x[0-9a-f]+:0x[0-9a-f]+$")
_STATE = re.compile(r"APP_INITIALIZATION_STATE\s*=\s*")


def at(value: Any, *path: int) -> Any:
    """``value[path[0]][path[1]]...``, or None where the path does not exist."""
    for index in path:
        if not isinstance(value, list) or not -len(value) <= index < len(value):
            return None
        value = value[index]
    return value


def _str(value: Any) -> str | None:
    return clean(value.replace("\\u003d", "=").replace("\\u0026", "&")) if isinstance(value, str) else None


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def decode_guarded(text: str) -> Any:
    """JSON text without its ``)]}'`` guard line (and without a ``{"d": ...}`` envelope)."""
    text = text.strip()
    if text.startswith(GUARD):
        text = text[len(GUARD) :].lstrip()
    data = json.loads(text)
    if isinstance(data, dict) and isinstance(data.get("d"), str):
        return decode_guarded(data["d"])
    return data


def _address(record: list[Any], name: str | None) -> str | None:
    parts = at(record, 2)
    if isinstance(parts, list) and parts and all(isinstance(p, str) for p in parts):
        return clean(", ".join(parts))
    whole = _str(at(record, 18))
    if whole and name and whole.startswith(name + ", "):
        whole = whole[len(name) + 2 :]
    return whole


def _hours(record: list[Any]) -> list[str]:
    days = at(record, 34, 1)
    hours = []
    for day in days if isinstance(days, list) else []:
        label, times = at(day, 0), at(day, 1)
        if isinstance(label, str) and isinstance(times, list):
            hours.append(clean(f"{label}, {', '.join(t for t in times if isinstance(t, str))}") or "")
    return [h for h in hours if h]


def place_from_record(record: list[Any], strategy: str) -> PlaceResult:
    """A place from the full positional record."""
    name = _str(at(record, 11))
    categories = at(record, 13)
    rating, reviews = _num(at(record, 4, 7)), _num(at(record, 4, 8))
    latitude, longitude = _num(at(record, 9, 2)), _num(at(record, 9, 3))
    place_url = _str(at(record, 27)) or _str(at(record, 42))
    return PlaceResult(
        name=name,
        categories=[c for c in map(_str, categories) if c] if isinstance(categories, list) else [],
        address=_address(record, name),
        phone=_str(at(record, 178, 0, 0)),
        website=unwrap_redirect(_str(at(record, 7, 0))),
        rating=rating,
        review_count=int(reviews) if reviews is not None else None,
        latitude=latitude,
        longitude=longitude,
        place_id=_str(at(record, 78)),
        data_id=_str(at(record, 10)),
        plus_code=_str(at(record, 183, 2, 2, 0)),
        hours=_hours(record),
        maps_url=place_url if place_url and "/maps/place/" in place_url else None,
        country_code=_str(at(record, 183, 1, 6)),
        city=_str(at(record, 183, 1, 3)),
        strategies=[strategy],
    )


def _find_place_id(value: Any, depth: int = 0) -> str | None:
    if isinstance(value, str):
        return value if value.startswith("ChI") and len(value) > 20 and " " not in value else None
    if isinstance(value, list) and depth < 6:
        for item in value:
            found = _find_place_id(item, depth + 1)
            if found:
                return found
    return None


def _small_record(data: list[Any]) -> PlaceResult:
    """The short record left in 2026 pages: hex id, name, coordinates, place_id."""
    return PlaceResult(
        name=_str(at(data, 1)),
        data_id=_str(at(data, 0)),
        latitude=_num(at(data, 3, 2)),
        longitude=_num(at(data, 3, 3)),
        place_id=_find_place_id(data),
        strategies=["appinit"],
    )


def parse_place_json(text: str) -> PlaceResult | None:
    """A place from one decoded ``APP_INITIALIZATION_STATE`` string (guard line optional)."""
    try:
        data = decode_guarded(text)
    except ValueError:
        return None
    record = at(data, 6)
    if isinstance(at(record, 11), str):
        return place_from_record(record, "appinit")
    first = at(data, 0, 0) if isinstance(at(data, 0), list) else at(data, 0)
    if isinstance(first, str) and _HEX_ID.match(first):
        return _small_record(at(data, 0) if isinstance(at(data, 0), list) else data)
    return None


def parse_app_state(text: str) -> PlaceResult | None:
    """The richest place record in a page's ``APP_INITIALIZATION_STATE``.

    :param text: the page's HTML, or the state itself as JSON (what the browser's
        ``JSON.stringify(window.APP_INITIALIZATION_STATE)`` gives).
    """
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            state = json.loads(stripped)
        except ValueError:
            return None
    else:
        match = _STATE.search(text)
        if not match:
            return None
        try:
            state, _ = json.JSONDecoder().raw_decode(text, match.end())
        except ValueError:
            return None
    candidates = []
    for item in at(state, 3) or []:
        if isinstance(item, str) and item.startswith(GUARD):
            result = parse_place_json(item)
            if result is not None and not result.empty:
                candidates.append(result)
    return max(candidates, key=lambda r: len(r.found()), default=None)


def parse_tbm_map(text: str) -> list[PlaceResult]:
    """Every place in a ``/search?tbm=map`` answer, in order."""
    try:
        data = decode_guarded(text)
    except ValueError:
        return []
    results = []
    for entry in at(data, 0, 1) or []:
        record = at(entry, 14)
        if isinstance(at(record, 11), str):
            results.append(place_from_record(record, "tbm_map"))
    return results
