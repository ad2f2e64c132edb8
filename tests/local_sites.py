"""A small HTTP/1.1 server on loopback that hosts many fixture websites, for tests and benches.

Sites are keyed by host name (``acme-dental.com``) or host and port
(``acme-dental.com:8443``). A request reaches a site in one of two ways:

- directly, to ``127.0.0.1:PORT`` or ``localhost:PORT``, routed by its ``Host`` header;
- as a forward proxy, with an absolute URL in the request line
  (``GET http://acme-dental.com/contact HTTP/1.1``), the way a client sends every request
  when ``HTTP_PROXY`` names a proxy.

The second way is how the tests reach sites with real names: nothing else on this
machine resolves them, and a crawler behind a proxy never resolves names itself.

The server speaks plain HTTP/1.1 with keep-alive, so it can also misbehave on purpose:
answer slowly, stream a body without end, or close the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found", 500: "Internal Server Error"}


@dataclass
class Reply:
    """What a route answers: a status, headers, and a body (or a stream of body chunks)."""

    body: bytes | str = b""
    status: int = 200
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    stream: Callable[[], AsyncIterator[bytes]] | None = None
    #: Seconds to wait before sending anything.
    delay: float = 0.0


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    host: str
    port: int
    path: str
    via_proxy: bool
    at: float


Route = Reply | Callable[["Seen"], Reply | Awaitable[Reply]]


def html(body: str, title: str = "") -> Reply:
    """An HTML page."""
    return Reply(f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>")


def redirect(location: str, status: int = 301) -> Reply:
    """A redirect to ``location``."""
    return Reply(b"", status=status, content_type=None, headers={"Location": location})


class SiteServer:
    """Serves the sites added with :meth:`add` on one or more loopback ports."""

    def __init__(self) -> None:
        self.sites: dict[str, dict[str, Route]] = {}
        self.seen: list[Seen] = []
        self.ports: list[int] = []
        #: Bytes of body written, per (host, path): how much of a huge page went out.
        self.sent: dict[tuple[str, str], int] = {}
        self._servers: list[asyncio.Server] = []
        self._writers: set[asyncio.StreamWriter] = set()

    def add(self, host: str, routes: dict[str, Route]) -> None:
        """Host ``routes`` (path to reply; ``*`` for any other path) under ``host`` or ``host:port``."""
        self.sites[host.lower()] = routes

    @property
    def proxy(self) -> str:
        """This server as a proxy URL."""
        return f"http://127.0.0.1:{self.ports[0]}"

    def requests_to(self, host: str, path: str | None = None) -> list[Seen]:
        """The requests seen for ``host`` (and ``path``)."""
        return [s for s in self.seen if s.host == host and (path is None or s.path == path)]

    async def start(self, ports: int = 1) -> SiteServer:
        """Listen on ``ports`` fresh loopback ports."""
        for _ in range(ports):
            server = await asyncio.start_server(self._connection, "127.0.0.1", 0, limit=1 << 16)
            self._servers.append(server)
            self.ports.append(server.sockets[0].getsockname()[1])
        return self

    async def close(self) -> None:
        """Stop listening and drop open connections."""
        for server in self._servers:
            server.close()
        for writer in list(self._writers):
            writer.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                keep_alive = await self._answer(head, writer)
                if not keep_alive:
                    return
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    def _route(self, host: str, port: int, path: str) -> Route | None:
        site = self.sites.get(f"{host}:{port}") or self.sites.get(host)
        if site is None:
            return None
        return site.get(path) or site.get("*")

    async def _answer(self, head: bytes, writer: asyncio.StreamWriter) -> bool:
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = [*lines[0].split(" "), "", ""][:3]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        via_proxy = target.startswith(("http://", "https://"))
        url = urlsplit(target if via_proxy else f"http://{headers.get('host', '')}{target}")
        host = (url.hostname or "").lower()
        port = url.port or 80
        seen = Seen(host=host, port=port, path=url.path or "/", via_proxy=via_proxy, at=time.monotonic())
        self.seen.append(seen)
        route = self._route(host, port, seen.path)
        if method not in ("GET", "HEAD"):
            reply = Reply("only GET here", status=405, content_type="text/plain")
        elif route is None:
            reply = html("<h1>Not found</h1>", "404")
            reply.status = 404
        else:
            result = route(seen) if callable(route) else route
            reply = await result if asyncio.iscoroutine(result) else result
        if reply.delay:
            await asyncio.sleep(reply.delay)
        keep_alive = headers.get("connection", "").lower() != "close" and reply.stream is None
        status_line = f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}\r\n"
        out_headers = dict(reply.headers)
        if reply.content_type:
            out_headers["Content-Type"] = reply.content_type
        body = reply.body.encode() if isinstance(reply.body, str) else reply.body
        if reply.stream is None:
            out_headers["Content-Length"] = str(len(body))
        out_headers["Connection"] = "keep-alive" if keep_alive else "close"
        head_out = status_line + "".join(f"{k}: {v}\r\n" for k, v in out_headers.items()) + "\r\n"
        try:
            writer.write(head_out.encode("latin-1"))
            if method == "HEAD":
                await writer.drain()
                return keep_alive
            if reply.stream is None:
                writer.write(body)
                await writer.drain()
                self.sent[(host, seen.path)] = len(body)
                return keep_alive
            sent = 0
            async for chunk in reply.stream():
                writer.write(chunk)
                await writer.drain()
                sent += len(chunk)
                self.sent[(host, seen.path)] = sent
        except (ConnectionError, RuntimeError):
            return False
        return False


def endless(
    chunk: bytes = b"<p>" + b"x" * 65_000 + b"</p>", limit: int = 200_000_000
) -> Callable[[], AsyncIterator[bytes]]:
    """A body that goes on (up to ``limit`` bytes) until the client stops reading."""

    async def stream() -> AsyncIterator[bytes]:
        yield b"<!doctype html><html><head><title>Huge</title></head><body>"
        sent = 0
        while sent < limit:
            yield chunk
            sent += len(chunk)

    return stream


def trickle(chunks: int = 100, pause: float = 1.0) -> Callable[[], AsyncIterator[bytes]]:
    """A body sent a few bytes at a time, ``pause`` seconds apart."""

    async def stream() -> AsyncIterator[bytes]:
        for _ in range(chunks):
            yield b"<p>."
            await asyncio.sleep(pause)

    return stream
