"""Signed tokens for the links in emails: the open pixel, tracked links, unsubscribing.

A token names one email and is good for one purpose (``open``, ``click``,
``unsubscribe``); a click token also covers the address it leads to, so the redirect
can never be pointed elsewhere. It is the email id followed by an HMAC-SHA256 of
purpose, id and link (cut to 128 bits), base64url-encoded: nothing in it says who
the recipient is, and without the key no valid token can be made or altered.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

#: Bytes of the MAC kept in a token: 128 bits cannot be guessed.
_MAC_BYTES = 16
#: The purpose a compliance plugin and the web routes share (``context.signing_key(TRACKING_KEY)``).
TRACKING_KEY = "tracking"


def _mac(key: bytes, purpose: str, email_id: int, extra: str) -> bytes:
    message = f"{purpose}\x00{email_id}\x00{extra}".encode()
    return hmac.new(key, message, hashlib.sha256).digest()[:_MAC_BYTES]


def sign_token(key: bytes, purpose: str, email_id: int, extra: str = "") -> str:
    """A token for ``email_id`` and ``purpose`` (and ``extra``, the link of a click)."""
    if email_id < 0:
        raise ValueError("an email id is never negative")
    number = email_id.to_bytes(max(1, (email_id.bit_length() + 7) // 8), "big")
    raw = number + _mac(key, purpose, email_id, extra)
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def read_token(key: bytes, purpose: str, token: str, extra: str = "") -> int | None:
    """The email id a token was made for, or None if it is forged, altered or for another purpose."""
    if not token or len(token) > 64:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    number, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    if not 1 <= len(number) <= 8:
        return None
    email_id = int.from_bytes(number, "big")
    if not hmac.compare_digest(mac, _mac(key, purpose, email_id, extra)):
        return None
    return email_id
