"""Mail servers on loopback for the mailbox probe's tests (aiosmtpd), each domain with its own manners.

One :class:`ProbeServer` answers for several domains: per recipient domain it
accepts known users and refuses others, accepts everything (catch-all), greylists,
refuses the asker (a block), or drops the connection. Every conversation is logged,
so a test sees the EHLO name, the MAIL FROM address, each RCPT with its reply, and
whether DATA or QUIT came. :class:`SilentServer` accepts connections and never
greets (a probe that times out); :func:`closed_port` is a port nothing listens on.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class Domain:
    """How the server treats recipients on one domain."""

    users: frozenset[str] = frozenset()
    accept_all: bool = False
    greylist: bool = False
    block: bool = False
    drop: bool = False


@dataclass
class Conversation:
    """One client's conversation, as the server saw it."""

    started: float
    helo: str | None = None
    mail_from: str | None = None
    rcpts: list[tuple[str, str]] = field(default_factory=list)
    data: bool = False
    quit: bool = False


class ProbeHandler:
    """aiosmtpd handler that answers RCPT by the recipient's domain, logging every conversation."""

    def __init__(self, domains: dict[str, Domain]) -> None:
        self.domains = {name.lower(): rules for name, rules in domains.items()}
        self.conversations: list[Conversation] = []

    def _log(self, session: Session) -> Conversation:
        # Kept on the session itself: an id() of a finished session is reused by the next one.
        talk: Conversation | None = getattr(session, "probe_conversation", None)
        if talk is None:
            talk = Conversation(started=time.monotonic())
            session.probe_conversation = talk  # type: ignore[attr-defined]
            self.conversations.append(talk)
        return talk

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        self._log(session).helo = hostname
        session.host_name = hostname
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        self._log(session).mail_from = address
        envelope.mail_from = address
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        local, _, domain = address.lower().rpartition("@")
        rules = self.domains.get(domain, Domain())
        if rules.drop:
            if server.transport is not None:
                server.transport.abort()
            reply = "421 4.4.2 dropped"
        elif rules.block:
            reply = "550 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org"
        elif rules.greylist:
            reply = "451 4.7.1 Greylisted, please try again later"
        elif rules.accept_all or local in rules.users:
            envelope.rcpt_tos.append(address)
            reply = "250 2.1.5 OK"
        else:
            reply = (
                f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in virtual mailbox table"
            )
        self._log(session).rcpts.append((address, reply))
        return reply

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self._log(session).data = True
        return "554 5.7.0 the probe tests never expect DATA"

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self._log(session).quit = True
        return "221 2.0.0 Bye"

    def asked(self) -> list[str]:
        """Every recipient asked about, in order, over all conversations."""
        return [address for talk in self.conversations for address, _ in talk.rcpts]


class ProbeServer:
    """A :class:`ProbeHandler` served on 127.0.0.1 and a free port, on the running event loop."""

    def __init__(self, handler: ProbeHandler) -> None:
        self.handler = handler
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    async def start(self) -> ProbeServer:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: SMTP(self.handler, hostname="mx.probe.test", timeout=30), "127.0.0.1", 0
        )
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


class SilentServer(asyncio.Protocol):
    """Accepts connections on 127.0.0.1 and never says a word."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.AbstractServer | None = None
        self.port = 0
        self._transports: list[asyncio.BaseTransport] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.connections += 1
        self._transports.append(transport)

    async def start(self) -> SilentServer:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: self, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for transport in self._transports:
            transport.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


def closed_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago, so connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
