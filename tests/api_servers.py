"""Local HTTP servers speaking the Places API (New) Text Search and the Overpass API.

Both run on 127.0.0.1 (a free port, one thread per request, stdlib only) and answer in
the services' own JSON shapes: the Places server checks the key and field mask headers,
the body and the page tokens, and returns only the fields the mask asks for; the Overpass
server reads the ``data`` form field, runs the ``nwr[...](around:R,LAT,LON);`` statements
it holds over its elements, and answers ``out center tags`` JSON. Either can be told to
fail its next answers (``fail_next``) or a given one (``fail_at``).
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

#: Where the fixtures' places are: downtown Austin, TX (the offline gazetteer's Austin).
AUSTIN = (30.26715, -97.74306)

PLACES_PATH = "/v1/places:searchText"
OVERPASS_PATH = "/api/interpreter"


@dataclass
class Seen:
    """One request a server received."""

    path: str
    headers: dict[str, str]
    body: Any
    at: float = field(default_factory=time.monotonic)


@dataclass
class Failure:
    """A canned answer: a status, headers, and a JSON or text body."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class _Server:
    """Runs a handler class on a loopback port in a thread; a context manager."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.fail_next: list[Failure] = []
        #: Failures by request number (1 is the first request): a later page that fails.
        self.fail_at: dict[int, Failure] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    def answer(self, seen: Seen) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError

    def _handle(self, seen: Seen) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(seen)
            failure = self.fail_next.pop(0) if self.fail_next else self.fail_at.get(len(self.requests))
        if failure is not None:
            if isinstance(failure.body, str):
                body, kind = failure.body.encode(), "text/html; charset=utf-8"
            else:
                body, kind = json.dumps(failure.body).encode(), "application/json; charset=UTF-8"
            return failure.status, {"Content-Type": kind, **failure.headers}, body
        return self.answer(seen)

    def __enter__(self) -> _Server:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                seen = Seen(path=self.path, headers={k.lower(): v for k, v in self.headers.items()}, body=raw)
                status, headers, body = owner._handle(seen)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()


def _json(status: int, payload: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json; charset=UTF-8"}, json.dumps(payload).encode()


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


# -- the Places API (New) ------------------------------------------------------------------------


def google_error(code: int, status: str, message: str, reason: str | None = None) -> dict[str, Any]:
    """An error body as Google's APIs write it."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if reason:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
                "metadata": {"service": "places.googleapis.com"},
            }
        ]
    return {"error": error}


QUOTA_EXCEEDED = Failure(
    429,
    google_error(
        429,
        "RESOURCE_EXHAUSTED",
        "Quota exceeded for quota metric 'SearchTextRequest' and limit 'SearchTextRequest per "
        "minute' of service 'places.googleapis.com' for consumer 'project_number:123456789'.",
        "RATE_LIMIT_EXCEEDED",
    ),
)
PERMISSION_DENIED = Failure(
    403,
    google_error(
        403,
        "PERMISSION_DENIED",
        "Places API (New) has not been used in project 123456789 before or it is disabled.",
        "SERVICE_DISABLED",
    ),
)


def fixture_place(n: int, **overrides: Any) -> dict[str, Any]:
    """A dentist in Austin as Text Search returns it with every field of our mask."""
    place: dict[str, Any] = {
        "id": f"ChIJFixtureDental{n:04d}xyz",
        "displayName": {"text": f"Fixture Dental {n}", "languageCode": "en"},
        "formattedAddress": f"{100 + n} Congress Ave, Austin, TX 78701, USA",
        "addressComponents": [
            {"longText": str(100 + n), "shortText": str(100 + n), "types": ["street_number"]},
            {"longText": "Congress Avenue", "shortText": "Congress Ave", "types": ["route"]},
            {"longText": "Austin", "shortText": "Austin", "types": ["locality", "political"]},
            {
                "longText": "Texas",
                "shortText": "TX",
                "types": ["administrative_area_level_1", "political"],
            },
            {"longText": "United States", "shortText": "US", "types": ["country", "political"]},
            {"longText": "78701", "shortText": "78701", "types": ["postal_code"]},
        ],
        "nationalPhoneNumber": f"(512) 555-{n:04d}",
        "internationalPhoneNumber": f"+1 512-555-{n:04d}",
        "websiteUri": f"https://fixture-dental-{n}.example/",
        "googleMapsUri": f"https://maps.google.com/?cid={1000000 + n}",
        "rating": 4.5,
        "userRatingCount": 10 + n,
        "location": {"latitude": AUSTIN[0] + n * 0.001, "longitude": AUSTIN[1]},
        "primaryType": "dentist",
        "primaryTypeDisplayName": {"text": "Dentist", "languageCode": "en-US"},
        "types": ["dentist", "health", "point_of_interest", "establishment"],
        "businessStatus": "OPERATIONAL",
    }
    place.update(overrides)
    return place


class PlacesServer(_Server):
    """``POST /v1/places:searchText``, answered from ``places`` in pages of ``pageSize``."""

    def __init__(self, places: list[dict[str, Any]] | None = None, api_key: str = "test-places-key") -> None:
        super().__init__()
        self.places = places if places is not None else [fixture_place(n) for n in range(1, 26)]
        self.api_key = api_key
        self._tokens: dict[str, tuple[str, int]] = {}

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """The JSON bodies of the requests received."""
        return [json.loads(seen.body) for seen in self.requests]

    def answer(self, seen: Seen) -> tuple[int, dict[str, str], bytes]:
        if seen.path != PLACES_PATH:
            return _json(404, google_error(404, "NOT_FOUND", f"Method not found: {seen.path}"))
        if seen.headers.get("x-goog-api-key") != self.api_key:
            return _json(
                400,
                google_error(
                    400,
                    "INVALID_ARGUMENT",
                    "API key not valid. Please pass a valid API key.",
                    "API_KEY_INVALID",
                ),
            )
        mask = [f.strip() for f in seen.headers.get("x-goog-fieldmask", "").split(",") if f.strip()]
        if not mask:
            return _json(
                400,
                google_error(
                    400,
                    "INVALID_ARGUMENT",
                    "FieldMask is a required parameter. See https://cloud.google.com/apis/docs/system-"
                    "parameters on how to provide it.",
                ),
            )
        try:
            body = json.loads(seen.body)
        except ValueError:
            return _json(400, google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received."))
        text = body.get("textQuery")
        size = body.get("pageSize", 20)
        if not text or not isinstance(size, int) or not 1 <= size <= 20:
            return _json(400, google_error(400, "INVALID_ARGUMENT", "Invalid textQuery or pageSize."))
        offset = 0
        if body.get("pageToken"):
            issued = self._tokens.get(body["pageToken"])
            if issued is None or issued[0] != text:
                return _json(400, google_error(400, "INVALID_ARGUMENT", "Invalid page token."))
            offset = issued[1]
        page = self.places[offset : offset + size]
        fields = {f.removeprefix("places.") for f in mask if f.startswith("places.")}
        answer: dict[str, Any] = {"places": [{k: v for k, v in p.items() if k in fields} for p in page]}
        if offset + size < len(self.places) and "nextPageToken" in mask:
            token = f"AeCrKXtok{len(self._tokens) + 1:03d}"
            self._tokens[token] = (text, offset + size)
            answer["nextPageToken"] = token
        if not answer["places"]:
            answer = {}  # the API answers an empty object when nothing matched
        return _json(200, answer)


# -- the Overpass API ----------------------------------------------------------------------------

_STATEMENT = re.compile(r"nwr((?:\[[^\]]+\])+)\(around:(\d+(?:\.\d+)?),(-?\d+\.\d+),(-?\d+\.\d+)\);")
_FILTER = re.compile(r'\["([^"]+)"(?:="([^"]*)")?\]')

OVERPASS_BUSY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>\n<html><head><title>OSM3S Response</title>'
    "</head><body><p><strong>Error</strong>: runtime error: open64: 0 Success /osm3s_osm_base "
    "Dispatcher_Client::request_read_and_idx::rate_limited. Please check /api/status for the "
    "quota of your IP address.</p></body></html>"
)
GATEWAY_TIMEOUT = (
    "<html><head><title>504 Gateway Timeout</title></head><body><h1>Gateway Timeout</h1>"
    "<p>The server is probably too busy to handle your request.</p></body></html>"
)


def node(n: int, lat: float, lon: float, **tags: str) -> dict[str, Any]:
    """An OSM node as ``out center tags`` writes it."""
    return {"type": "node", "id": n, "lat": lat, "lon": lon, "tags": tags}


def way(n: int, lat: float, lon: float, **tags: str) -> dict[str, Any]:
    """An OSM way (an outline) with the centre Overpass computes for ``out center``."""
    return {"type": "way", "id": n, "center": {"lat": lat, "lon": lon}, "tags": tags}


def relation(n: int, lat: float, lon: float, **tags: str) -> dict[str, Any]:
    """An OSM relation (a multipolygon) with its centre."""
    return {"type": "relation", "id": n, "center": {"lat": lat, "lon": lon}, "tags": tags}


def tags(**pairs: str) -> dict[str, str]:
    """Tags with ``:`` in their keys: ``addr__street`` is ``addr:street``."""
    return {key.replace("__", ":"): value for key, value in pairs.items()}


class OverpassServer(_Server):
    """``POST /api/interpreter`` with ``data=<query>``, answered from ``elements``."""

    def __init__(self, elements: list[dict[str, Any]]) -> None:
        super().__init__()
        self.elements = elements

    @property
    def queries(self) -> list[str]:
        """The ``data`` field of each request."""
        return [parse_qs(seen.body.decode()).get("data", [""])[0] for seen in self.requests]

    @property
    def user_agents(self) -> list[str]:
        return [seen.headers.get("user-agent", "") for seen in self.requests]

    def answer(self, seen: Seen) -> tuple[int, dict[str, str], bytes]:
        if seen.path != OVERPASS_PATH:
            return 404, {"Content-Type": "text/html"}, b"<html><body>Not Found</body></html>"
        if "application/x-www-form-urlencoded" not in seen.headers.get("content-type", ""):
            return 400, {"Content-Type": "text/html"}, b"<p><strong>Error</strong>: no data field</p>"
        if not seen.headers.get("user-agent", "").startswith("outreach/"):
            return 403, {"Content-Type": "text/html"}, b"<p>Identify your client in its User-Agent.</p>"
        query = parse_qs(seen.body.decode()).get("data", [""])[0]
        statements = _STATEMENT.findall(query)
        if not query.startswith("[out:json]") or "out center tags;" not in query or not statements:
            error = '<p><strong style="color:#FF0000">Error</strong>: line 1: parse error</p>'
            return 400, {"Content-Type": "text/html; charset=utf-8"}, error.encode()
        found: list[dict[str, Any]] = []
        for filters, radius, lat, lon in statements:
            wanted = _FILTER.findall(filters)
            for element in self.elements:
                where = element if "lat" in element else element["center"]
                near = distance_m(float(lat), float(lon), where["lat"], where["lon"]) <= float(radius)
                has = all(
                    key in element["tags"] and (not value or element["tags"][key] == value)
                    for key, value in wanted
                )
                if near and has and element not in found:
                    found.append(element)
        return _json(
            200,
            {
                "version": 0.6,
                "generator": "Overpass API 0.7.62.1 084b4234",
                "osm3s": {
                    "timestamp_osm_base": "2025-01-01T00:00:00Z",
                    "copyright": "The data included in this document is from www.openstreetmap.org. "
                    "The data is made available under ODbL.",
                },
                "elements": found,
            },
        )
