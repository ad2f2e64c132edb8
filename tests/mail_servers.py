"""An SMTP server on loopback for the engine's tests: an aiosmtpd sink (STARTTLS, implicit TLS,
AUTH, injected faults) that can file what it accepts into a Maildir (a Dovecot from
``support.dovecot`` then serves it as the Sent folder), and a self-signed certificate made
with ``cryptography``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import ipaddress
import os
import random
import ssl
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1: (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server-side TLS context for the certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@dataclass
class Received:
    """One message as the server parsed it."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage
    authenticated_as: str | None
    tls: bool


@dataclass
class Faults:
    """What the sink does wrong, and how often (each a probability per message)."""

    transient: float = 0.0
    permanent: float = 0.0
    drop_before: float = 0.0
    drop_after_accept: float = 0.0
    seed: int = 7
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)


class SinkHandler:
    """Accepts messages (or misbehaves as told), keeping each one and filing it in a Maildir."""

    def __init__(
        self,
        faults: Faults | None = None,
        maildir: Path | None = None,
        on_message: Callable[[Received], None] | None = None,
    ) -> None:
        self.received: list[Received] = []
        self.faults = faults or Faults()
        self.maildir = maildir
        self.on_message = on_message
        self.refused: Counter[str] = Counter()

    def _drop(self, server: SMTP) -> None:
        if server.transport is not None:
            server.transport.abort()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        faults = self.faults
        roll = faults.rng.random()
        if roll < faults.transient:
            self.refused["4xx"] += 1
            return "451 4.3.0 Try again later"
        roll -= faults.transient
        if roll < faults.permanent:
            self.refused["5xx"] += 1
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        roll -= faults.permanent
        if roll < faults.drop_before:
            self.refused["drop"] += 1
            self._drop(server)
            return "421 4.4.2 Connection dropped"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=policy.default)
        login = getattr(session.auth_data, "login", None) if session.authenticated else None
        item = Received(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            raw=raw,
            message=parsed,  # type: ignore[arg-type]
            authenticated_as=login.decode() if isinstance(login, bytes) else login,
            tls=server.transport is not None and server.transport.get_extra_info("ssl_object") is not None,
        )
        self.received.append(item)
        if self.maildir is not None:
            self._file(raw)
        if self.on_message is not None:
            self.on_message(item)
        if self.faults.rng.random() < self.faults.drop_after_accept:
            self.refused["drop_after"] += 1
            self._drop(server)
        return "250 2.0.0 Ok: queued as " + uuid.uuid4().hex[:10].upper()

    def _file(self, raw: bytes) -> None:
        assert self.maildir is not None
        name = f"{time.time():.6f}.{uuid.uuid4().hex}.sink"
        tmp = self.maildir / "tmp" / name
        tmp.write_bytes(raw)
        os.replace(tmp, self.maildir / "new" / name)

    def message_ids(self) -> Counter[str]:
        """How many times the server accepted each Message-ID."""
        return Counter(str(r.message["Message-ID"]) for r in self.received)


class Sink:
    """An aiosmtpd server on 127.0.0.1 and a free port, on the running event loop."""

    def __init__(
        self,
        handler: SinkHandler,
        *,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        users: dict[str, str] | None = None,
        smtputf8: bool = False,
    ) -> None:
        self.handler = handler
        self.smtputf8 = smtputf8
        self.tls_context = tls_context
        self.implicit_tls = implicit_tls
        self.users = users
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        users = self.users or {}
        login = data.login.decode() if isinstance(data.login, bytes) else data.login
        password = data.password.decode() if isinstance(data.password, bytes) else data.password
        return AuthResult(success=users.get(login) == password, handled=False, auth_data=data)

    def _protocol(self) -> SMTP:
        return SMTP(
            self.handler,
            hostname="sink.test",
            tls_context=None if self.implicit_tls else self.tls_context,
            require_starttls=self.tls_context is not None and not self.implicit_tls,
            auth_required=self.users is not None,
            auth_require_tls=self.users is not None and self.tls_context is not None,
            authenticator=self._authenticate if self.users is not None else None,
            enable_SMTPUTF8=self.smtputf8,
            timeout=30,
        )

    async def start(self) -> Sink:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            self._protocol,
            "127.0.0.1",
            0,
            ssl=self.tls_context if self.implicit_tls else None,
        )
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
