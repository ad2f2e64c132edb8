"""DKIM signing by the smtp sender: a message captured at a real SMTP sink on loopback verifies with
dkimpy against the key served by a DNS server on loopback; a changed Subject does not."""

from __future__ import annotations

import asyncio
import base64
import os

import dkim
import dns.resolver
import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from engine_helpers import Clock, enrolled, mailbox, with_legal
from local_dns import DnsServer
from mail_servers import Sink, SinkHandler

from outreach.kernel import SenderUnavailable
from outreach.plugins.smtp.dkim import sign_message
from outreach.plugins.smtp.options import SmtpOptions

KEY_ENV = "OUTREACH_TEST_DKIM_KEY"
SELECTOR = "outreach2026"
DOMAIN = "main.example"


@pytest.fixture
def make_settings(make_settings):
    return with_legal(make_settings)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_record(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"


@pytest.fixture
async def dns_server(key):
    server = await DnsServer({f"{SELECTOR}._domainkey.{DOMAIN}": {"TXT": [key_record(key)]}}).start()
    yield server
    server.close()


@pytest.fixture
async def sink():
    handler = SinkHandler()
    server = await Sink(handler).start()
    yield server
    await server.stop()


def verify(raw: bytes, port: int) -> bool:
    """dkimpy's verdict, with the key looked up on the loopback DNS server."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    resolver.lifetime = 5

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        try:
            answer = resolver.resolve(name.decode().rstrip("."), "TXT")
        except dns.resolver.NXDOMAIN:
            return None
        return b"".join(next(iter(answer)).strings)

    return dkim.verify(raw, dnsfunc=dnsfunc)


async def send_one(make_settings, make_runtime, sink, key_reference: str):
    settings = make_settings(
        sender={
            "backend": "smtp",
            "smtp": {
                "host": "127.0.0.1",
                "port": sink.port,
                "timeout": 5,
                "dkim_selector": SELECTOR,
                "dkim_private_key": key_reference,
            },
        },
        mailboxes=[mailbox()],
        sending={"rate_limit_per_minute": 0},
    )
    rt = await make_runtime(settings)
    rt.clock = Clock()
    await enrolled(rt, 1)
    stats = await rt.outbox.run_until_idle()
    assert stats.sent == 1
    [received] = sink.handler.received
    return received


async def test_a_message_signed_by_the_smtp_sender_verifies_against_the_published_key(
    make_settings, make_runtime, sink, dns_server, key, tmp_path, monkeypatch
) -> None:
    path = tmp_path / "dkim.pem"
    path.write_bytes(  # PKCS#8, what `openssl genpkey` writes
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    monkeypatch.setenv(KEY_ENV, str(path))  # the secret names the file
    received = await send_one(make_settings, make_runtime, sink, f"env:{KEY_ENV}")

    signature = received.message["DKIM-Signature"]
    assert signature is not None
    tags = dict(
        part.strip().split("=", 1) for part in str(signature).replace("\r\n", "").split(";") if "=" in part
    )
    assert tags["d"] == DOMAIN
    assert tags["s"] == SELECTOR
    signed = {name.strip().lower() for name in tags["h"].split(":")}
    assert {
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
    } <= signed
    assert await asyncio.to_thread(verify, received.raw, dns_server.port)

    tampered = received.raw.replace(b"Subject: A question for", b"Subject: A question from", 1)
    assert tampered != received.raw
    assert not await asyncio.to_thread(verify, tampered, dns_server.port)

    unsubscribe = received.raw.replace(
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: x", 1
    )
    assert unsubscribe != received.raw
    assert not await asyncio.to_thread(verify, unsubscribe, dns_server.port)


async def test_the_pem_itself_may_be_in_the_environment_variable(
    make_settings, make_runtime, sink, dns_server, key, monkeypatch
) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    monkeypatch.setenv(KEY_ENV, pem.decode())
    received = await send_one(make_settings, make_runtime, sink, f"env:{KEY_ENV}")
    assert await asyncio.to_thread(verify, received.raw, dns_server.port)


def test_only_headers_the_message_has_are_signed_and_nothing_without_a_key(key, tmp_path) -> None:
    path = tmp_path / "k.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    data = b"From: a@acme.net\r\nTo: b@lead.net\r\nSubject: hi\r\n\r\nbody\r\n"
    assert sign_message(data, "a@acme.net", None, None) == data
    signed = sign_message(data, "A <a@acme.net>", "s1", str(path))
    header = signed[: signed.index(b"From:")].decode().replace("\r\n", "")
    assert "d=acme.net" in header
    assert "s=s1" in header
    h = header.split("h=", 1)[1].split(";", 1)[0]
    assert sorted(x.strip() for x in h.split(":")) == ["from", "subject", "to"]


def test_an_unreadable_key_stops_the_send_rather_than_sending_unsigned(tmp_path) -> None:
    os.environ.pop(KEY_ENV, None)
    data = b"From: a@acme.net\r\nTo: b@lead.net\r\n\r\nbody\r\n"
    with pytest.raises(SenderUnavailable, match="dkim_private_key"):
        sign_message(data, "a@acme.net", "s1", f"env:{KEY_ENV}")
    with pytest.raises(SenderUnavailable, match="dkim_private_key"):
        sign_message(data, "a@acme.net", "s1", str(tmp_path / "missing.pem"))


def test_the_options_want_both_keys_and_never_the_key_itself() -> None:
    with pytest.raises(msgspec.ValidationError, match="go together"):
        msgspec.convert({"dkim_selector": "s1"}, SmtpOptions)
    with pytest.raises(msgspec.ValidationError, match="must not hold the key itself"):
        msgspec.convert(
            {"dkim_selector": "s1", "dkim_private_key": "-----BEGIN PRIVATE KEY-----\nMII..."}, SmtpOptions
        )
    options = msgspec.convert({"dkim_selector": "s1", "dkim_private_key": "env:X"}, SmtpOptions)
    assert options.dkim_selector == "s1"
