"""Splitting an area into a grid of biased searches.

Maps lists about 120 places per search. For more, the area around the searched
place is cut into ``side × side`` cells and each cell is searched on its own, with the
map centred on the cell and zoomed to its size; the results are then de-duplicated.
"""

from __future__ import annotations

import math

import msgspec

from outreach.kernel import GeoPlace

EARTH_KM = 40075.0
#: The map viewport the browser uses, in pixels (Maps tiles are 256 px).
VIEWPORT_PX = 1024


class Cell(msgspec.Struct, frozen=True):
    """One search of a grid: where the map is centred and how far it is zoomed."""

    latitude: float
    longitude: float
    zoom: int


def zoom_for_span(span_km: float, latitude: float) -> int:
    """The Maps zoom at which the viewport is about ``span_km`` wide at ``latitude``."""
    width_at_zero = EARTH_KM * max(math.cos(math.radians(latitude)), 0.01) * VIEWPORT_PX / 256
    return max(3, min(18, round(math.log2(width_at_zero / max(span_km, 0.1)))))


def bounds(place: GeoPlace) -> tuple[float, float, float, float]:
    """``(south, west, north, east)`` of the place: its own box, or a square of its radius."""
    if place.bbox is not None:
        return place.bbox
    radius = place.radius_km or 5.0
    dlat = radius / 111.32
    dlng = radius / (111.32 * max(math.cos(math.radians(place.latitude)), 0.01))
    return (place.latitude - dlat, place.longitude - dlng, place.latitude + dlat, place.longitude + dlng)


def grid_side(max_results: int | None, per_search: int) -> int:
    """Cells per side needed for ``max_results`` (1 when one search can hold them)."""
    if not max_results or max_results <= per_search:
        return 1
    return math.ceil(math.sqrt(math.ceil(max_results / per_search)))


def cells(place: GeoPlace, side: int) -> list[Cell]:
    """``side × side`` cells over the place's area, centre first then outwards."""
    south, west, north, east = bounds(place)
    height = (north - south) / side
    width = (east - west) / side
    span_km = max(height * 111.32, width * 111.32 * math.cos(math.radians(place.latitude)))
    if side == 1:
        return [Cell(place.latitude, place.longitude, zoom_for_span(span_km, place.latitude))]
    zoom = zoom_for_span(span_km, place.latitude)
    result = [
        Cell(round(south + (row + 0.5) * height, 6), round(west + (col + 0.5) * width, 6), zoom)
        for row in range(side)
        for col in range(side)
    ]
    centre = ((south + north) / 2, (west + east) / 2)
    return sorted(result, key=lambda c: (c.latitude - centre[0]) ** 2 + (c.longitude - centre[1]) ** 2)
