"""The fixture's HTTP server (stdlib, one thread per request, on 127.0.0.1)."""

from __future__ import annotations

import collections
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

from . import pages
from .places import CENTRE, Place, nearest, universe

_AT = re.compile(r"/@(-?\d+\.\d+),(-?\d+\.\d+),(\d+)z")
_OFFSET = re.compile(r"!8i(\d+)")
_VIEW = re.compile(r"!2d(-?\d+\.\d+)!3d(-?\d+\.\d+)")


class MapsFixture:
    """Start with :meth:`start` (or as a context manager); ``url`` is its base URL.

    :param per_search: most places one search lists (Google's is about 120).
    :param first: cards in the feed before any scrolling; ``batch`` more per scroll.
    :param consent: send first-time visitors to the consent wall.
    :param single: queries that open one place directly instead of a list (a redirect to its
        ``/maps/place/...`` URL).
    :param in_place: queries whose search page is one place's page, under the search's own
        URL (only the page's content says it is a place).
    :param carousel: queries whose results page also shows "People also search for" carousels.
    :param related: how many related places a place page (and a carousel) shows.
    :param broken: give one place a page in a layout no selector knows.
    """

    def __init__(
        self,
        *,
        per_search: int = 120,
        places: int = 40,
        first: int = 7,
        batch: int = 7,
        delay_ms: int = 40,
        consent: bool = True,
        single: tuple[str, ...] = ("tipsy sticks",),
        in_place: tuple[str, ...] = ("kipriakon",),
        carousel: tuple[str, ...] = ("florists",),
        related: int = 3,
        nominatim: dict[str, dict[str, object]] | None = None,
        broken: bool = True,
    ) -> None:
        self.per_search, self.places, self.first, self.batch = per_search, places, first, batch
        self.delay_ms, self.consent = delay_ms, consent
        self.single = {s.casefold() for s in single}
        self.in_place = {s.casefold() for s in in_place}
        self.carousel = {s.casefold() for s in carousel}
        self.related = related
        self.nominatim = nominatim or {}
        self.broken = broken
        self.hits: collections.Counter[str] = collections.Counter()
        self.cards_served: list[str] = []
        #: The name of each place page served, in order (a landing served in place included).
        self.places_served: list[str] = []
        self.user_agents: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> MapsFixture:
        fixture = self

        class Handler(_Handler):
            owner = fixture

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> MapsFixture:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- data ----------------------------------------------------------------------------

    def places_for(self, query: str) -> list[Place]:
        return universe(query, self.places, broken=self.broken)

    def search(self, query: str, latitude: float, longitude: float) -> list[Place]:
        """What a search biased to a point lists: the nearest places, at most ``per_search``."""
        return nearest(self.places_for(query), latitude, longitude, self.per_search)

    def related_to(self, query: str) -> list[Place]:
        """The other places shown beside ``query``'s places ("Nearby ..."), never among its results."""
        return universe(f"nearby {query}", self.places, broken=False)[: self.related]

    def place(self, query_name: str) -> Place | None:
        for candidate_query in {" ".join(query_name.split()[:-1]), query_name}:
            for place in self.places_for(candidate_query):
                if place.name.casefold() == query_name.casefold():
                    return place
        return None


class _Handler(BaseHTTPRequestHandler):
    owner: MapsFixture
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        return

    # -- plumbing ------------------------------------------------------------------------

    def _send(
        self, status: int, body: str, content_type: str = "text/html; charset=utf-8", headers=None
    ) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _redirect(self, location: str, status: int = 302, headers=None) -> None:
        self._send(status, "", headers={"Location": location, **(headers or {})})

    def _consented(self) -> bool:
        return not self.owner.consent or "SOCS=" in (self.headers.get("Cookie") or "")

    # -- routes --------------------------------------------------------------------------

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        if self.path.startswith("/consent/save"):
            self.owner.hits["consent_saved"] += 1
            target = form.get("continue", ["/"])[0]
            choice = "reject" if form.get("set_eom", ["true"])[0] == "true" else "accept"
            self._redirect(target, 303, {"Set-Cookie": f"SOCS=fixture-{choice}; Path=/; SameSite=Lax"})
            return
        self._send(404, "not found")

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        self.owner.user_agents.append(self.headers.get("User-Agent") or "")
        if path.startswith("/nominatim/search"):
            return self._nominatim(parse_qs(parts.query))
        if path.startswith("/sorry/"):
            self.owner.hits["sorry"] += 1
            return self._send(429, pages.SORRY_PAGE)
        if path.startswith("/consent"):
            self.owner.hits["consent_shown"] += 1
            return self._send(200, pages.consent_page(parse_qs(parts.query).get("continue", ["/"])[0]))
        if path.startswith(("/maps/", "/search")) and not self._consented():
            return self._redirect(f"/consent?continue={quote(self.path, safe='')}")
        if path == "/search" and parse_qs(parts.query).get("tbm") == ["map"]:
            return self._tbm(parse_qs(parts.query))
        if path.startswith("/maps/search/"):
            return self._search(path[len("/maps/search/") :])
        if path.startswith("/maps/place/"):
            return self._place(path[len("/maps/place/") :])
        self._send(404, "<html><body>Not found</body></html>")

    def _search(self, rest: str) -> None:
        query = rest.split("/@")[0].replace("+", " ").strip()
        self.owner.hits["search"] += 1
        folded = query.casefold()
        if folded == "sorry":
            return self._redirect(f"/sorry/index?continue={quote(self.path, safe='')}")
        if folded == "nothing here":
            return self._send(200, pages.nothing_page(query))
        if folded in self.owner.single:
            place = self.owner.places_for(query)[1]
            return self._redirect(place.google_url.replace("https://www.google.com", ""))
        if folded in self.owner.in_place:
            return self._send_place(self.owner.places_for(query)[1])
        match = _AT.search("/" + rest)
        latitude, longitude = (float(match.group(1)), float(match.group(2))) if match else CENTRE
        listed = self.owner.search(query, latitude, longitude)
        self.owner.cards_served.extend(p.place_id for p in listed)
        first, later = listed[: self.owner.first], listed[self.owner.first :]
        related = self.owner.related_to(query) if folded in self.owner.carousel else None
        page = pages.results_page(
            query, first, later, batch=self.owner.batch, delay_ms=self.owner.delay_ms, related=related
        )
        self._send(200, page)

    def _place(self, rest: str) -> None:
        name = rest.split("/")[0].replace("+", " ")
        place = self.owner.place(name)
        self.owner.hits["place"] += 1
        if place is None:
            return self._send(404, "<html><body>No such place</body></html>")
        self._send_place(place)

    def _send_place(self, place: Place) -> None:
        self.owner.places_served.append(place.name)
        if place.broken:
            return self._send(200, pages.broken_page(place))
        related = self.owner.related_to(" ".join(place.name.split()[:-1]))
        self._send(200, pages.place_page(place, related))

    def _tbm(self, query: dict[str, list[str]]) -> None:
        self.owner.hits["tbm"] += 1
        text = query.get("q", [""])[0]
        pb = query.get("pb", [""])[0]
        offset = int(_OFFSET.search(pb).group(1)) if _OFFSET.search(pb) else 0
        view = _VIEW.search(pb)
        longitude, latitude = (float(view.group(1)), float(view.group(2))) if view else (CENTRE[1], CENTRE[0])
        listed = self.owner.search(text, latitude, longitude)[offset : offset + 20]
        self._send(200, pages.tbm_answer(text, listed), "application/json; charset=utf-8")

    def _nominatim(self, query: dict[str, list[str]]) -> None:
        self.owner.hits["nominatim"] += 1
        text = query.get("q", [""])[0].casefold()
        found = self.owner.nominatim.get(text)
        self._send(200, json.dumps([found] if found else []), "application/json")
