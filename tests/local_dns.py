"""A small DNS server on loopback (UDP, dnslib) that answers for test domains and NXDOMAIN for the rest."""

from __future__ import annotations

import asyncio
from typing import Any

from dnslib import AAAA, MX, QTYPE, RCODE, RR, TXT, A, DNSRecord


class DnsServer(asyncio.DatagramProtocol):
    """Answers from ``zones``: ``{"acme.com": {"MX": [(10, "mx1.acme.com")], "A": ["192.0.2.1"]}}``.

    A ``TXT`` value is a string (split into 255-byte character-strings, as DNS
    requires of long SPF and DKIM records) or a list of strings (one record made of
    those character-strings). A domain listed with no records answers NOERROR with
    no data; a domain in
    ``silent`` never answers (a lookup that times out); every other name is NXDOMAIN.
    """

    def __init__(self, zones: dict[str, dict[str, list[Any]]], silent: frozenset[str] = frozenset()) -> None:
        self.zones = {name.lower(): records for name, records in zones.items()}
        self.silent = silent
        #: Every question asked: (name, type).
        self.queries: list[tuple[str, str]] = []
        self.port = 0
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self) -> DnsServer:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        self._transport = transport  # type: ignore[assignment]
        self.port = transport.get_extra_info("sockname")[1]
        return self

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        request = DNSRecord.parse(data)
        name = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        self.queries.append((name, qtype))
        if name in self.silent:
            return
        reply = request.reply()
        zone = self.zones.get(name)
        if zone is None:
            reply.header.rcode = RCODE.NXDOMAIN
        else:
            for value in zone.get(qtype, []):
                if qtype == "MX":
                    preference, host = value
                    rdata: Any = MX(host, preference)
                elif qtype == "A":
                    rdata = A(value)
                elif qtype == "TXT":
                    rdata = TXT(_character_strings(value))
                elif qtype == "AAAA":
                    rdata = AAAA(value)
                else:
                    continue
                reply.add_answer(RR(request.q.qname, QTYPE.reverse[qtype], rdata=rdata, ttl=300))
        assert self._transport is not None
        self._transport.sendto(reply.pack(), addr)


def _character_strings(value: str | list[str]) -> list[bytes]:
    """One TXT record's character-strings: at most 255 bytes each (RFC 1035 3.3.14)."""
    if isinstance(value, str):
        data = value.encode()
        return [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
    return [part.encode() for part in value]
