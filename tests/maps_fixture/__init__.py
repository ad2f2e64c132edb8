"""A local server that behaves like Google Maps, for end-to-end tests and the benchmark.

It serves results pages whose feed grows as it is scrolled and ends with the end
marker, place pages in the 2025-2026 DOM, a consent wall on the first visit (the
cookie is remembered), a ``/sorry/`` page, a layout no selector matches, a search that
opens one place directly, the ``tbm=map`` JSON, and a Nominatim-shaped ``/nominatim``.
"""

from __future__ import annotations

from .places import CENTRE, Place, nearest, universe
from .server import MapsFixture

__all__ = ["CENTRE", "MapsFixture", "Place", "nearest", "universe"]
