"""DKIM signatures on outgoing messages, made with dkimpy.

With ``[sender.smtp] dkim_selector`` and ``dkim_private_key`` set, every message is
signed for the domain of its From address, so receivers can tell it really comes
from that domain (and DMARC passes on DKIM even when SPF does not align). The
headers signed are those of :data:`SIGNED_HEADERS` that the message has: Gmail
honours one-click unsubscribe only when ``List-Unsubscribe`` and
``List-Unsubscribe-Post`` are covered by a valid signature.

The private key is PEM (RSA, or Ed25519 for ``ed25519-sha256``), held by a secret
reference (``env:NAME``, ``keyring:service/name``) or in a file named by its path.

dkimpy is imported on first use: it takes a good part of a second to import, and every
``outreach`` command imports every plugin.
"""

from __future__ import annotations

import base64
import functools
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from outreach.kernel import SecretRef, SenderUnavailable, address_of

#: The headers a signature covers, when the message has them.
SIGNED_HEADERS: tuple[bytes, ...] = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
)


def read_key_text(reference: str) -> bytes:
    """The PEM that ``reference`` names: a secret reference holding the PEM or a file's path, or a path."""
    value = reference
    if reference.startswith(("env:", "keyring:")):
        value = SecretRef(reference).resolve()
        if "-----BEGIN" in value:
            # An environment variable cannot always hold line breaks; accept them written as \n.
            return value.replace("\\n", "\n").encode()
    # Not PEM: the path of the PEM file (the config check refuses a clear value under a
    # *_private_key key, so a path is usually given through the secret reference).
    return Path(value.strip()).expanduser().read_bytes()


@functools.lru_cache(maxsize=8)
def _signing_key(pem: bytes) -> tuple[bytes, bytes]:
    """dkimpy's form of the key and its algorithm, kept per key (read again per message, so a
    changed secret is used at once; parsed once)."""
    key = serialization.load_pem_private_key(pem, password=None)
    if isinstance(key, rsa.RSAPrivateKey):
        # dkimpy reads PKCS#1; a PKCS#8 file ("BEGIN PRIVATE KEY") is converted.
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        return pem, b"rsa-sha256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return base64.b64encode(raw), b"ed25519-sha256"
    raise ValueError("a DKIM key must be RSA or Ed25519")


def present_headers(data: bytes) -> list[bytes]:
    """Which of :data:`SIGNED_HEADERS` the message ``data`` has, in that order."""
    import dkim

    headers, _body = dkim.rfc822_parse(data)
    names = {name.lower() for name, _value in headers}
    return [name for name in SIGNED_HEADERS if name in names]


def sign_message(data: bytes, from_address: str, selector: str | None, key_reference: str | None) -> bytes:
    """``data`` with a ``DKIM-Signature`` header for the From domain on top (unchanged without a key).

    Raise :class:`SenderUnavailable` when the key cannot be read or used: mail that
    the settings say must be signed is not sent unsigned.
    """
    if not selector or not key_reference:
        return data
    import dkim

    domain = address_of(from_address).rpartition("@")[2].lower()
    try:
        key, algorithm = _signing_key(read_key_text(key_reference))
        header = dkim.sign(
            data,
            selector.encode(),
            domain.encode(),
            key,
            canonicalize=(b"relaxed", b"relaxed"),
            signature_algorithm=algorithm,
            include_headers=present_headers(data),
        )
    except Exception as exc:  # an unset secret, a missing file, a key dkimpy refuses
        raise SenderUnavailable(
            f"cannot DKIM-sign mail from {domain} with [sender.smtp] dkim_private_key: {exc}"
        ) from None
    return header + data
