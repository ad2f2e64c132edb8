"""DKIM keys: the one published in DNS (parsed with dkimpy) and the one outreach signs with.

The private key is named the way ``[sender.smtp] dkim_private_key`` names it: a secret
reference (``env:``, ``keyring:``) holding PEM, or the path of a PEM file. The two
match when their public halves are the same number (RSA modulus and exponent) or
the same 32 bytes (Ed25519).
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from outreach.kernel import SecretRef


class KeyProblem(Exception):
    """A key that cannot be read or does not parse, with the reason in words."""


def parse_record(record: str) -> dict[str, Any]:
    """The tags of a DKIM key record (RFC 6376 3.6.1), the key parsed: ``k``, ``bits``, ``public``."""
    import dkim.crypto  # imported on first use: slow to import, and every command loads every plugin
    import dkim.util

    try:
        tags = dkim.util.parse_tag_value(record.encode())
    except dkim.util.InvalidTagValueList as exc:
        raise KeyProblem(f"the record is not a list of tag=value pairs ({exc})") from None
    version = tags.get(b"v", b"DKIM1")
    if version != b"DKIM1":
        raise KeyProblem(f"v={version.decode(errors='replace')} where DKIM1 is expected")
    kind = tags.get(b"k", b"rsa").decode(errors="replace")
    data = b"".join(tags.get(b"p", b"").split())
    if b"p" not in tags:
        raise KeyProblem("the record has no p= (public key) tag")
    if not data:
        raise KeyProblem("p= is empty: the key has been revoked")
    try:
        raw = base64.b64decode(data, validate=True)
    except binascii.Error:
        raise KeyProblem("p= is not valid base64") from None
    if kind == "rsa":
        try:
            key = dkim.crypto.parse_public_key(raw)
        except dkim.crypto.UnparsableKeyError as exc:
            raise KeyProblem(f"p= is not an RSA public key ({exc})") from None
        return {
            "k": kind,
            "bits": key["modulus"].bit_length(),
            "public": (key["modulus"], key["publicExponent"]),
        }
    if kind == "ed25519":
        if len(raw) != 32:
            raise KeyProblem("p= is not a 32-byte Ed25519 public key")
        return {"k": kind, "bits": 256, "public": raw}
    raise KeyProblem(f"k={kind} is not a key type receivers know (rsa or ed25519)")


def read_key_text(reference: str) -> bytes:
    """The PEM ``reference`` names, read as the smtp sender reads it."""
    value = reference
    if reference.startswith(("env:", "keyring:")):
        value = SecretRef(reference).resolve()
        if "-----BEGIN" in value:
            # An environment variable cannot always hold line breaks; accept them written as \n.
            return value.replace("\\n", "\n").encode()
    # Not PEM: the path of the PEM file (the config check refuses a clear value under a
    # *_private_key key, so a path is usually given through the secret reference).
    return Path(value.strip()).expanduser().read_bytes()


def signing_public_key(reference: str) -> tuple[str, Any]:
    """The key type and public half of the private key outreach signs with."""
    try:
        key = serialization.load_pem_private_key(read_key_text(reference), password=None)
    except Exception as exc:  # an unset secret, a missing file, not PEM
        raise KeyProblem(f"cannot read dkim_private_key ({exc})") from None
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.public_key().public_numbers()
        return "rsa", (numbers.n, numbers.e)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return "ed25519", raw
    raise KeyProblem("dkim_private_key is neither an RSA nor an Ed25519 key")
