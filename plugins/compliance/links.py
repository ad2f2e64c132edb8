"""The links a message carries back to this outreach, each with its own signed token.

``/u/<token>``: the unsubscribe page (GET) and one-click unsubscribe (POST, RFC 8058);
``/t/o/<token>``: the open pixel; ``/t/c/<token>?u=<link>``: a tracked link, whose
token also signs the link, so the redirect can never be sent anywhere else.
"""

from __future__ import annotations

import functools
from urllib.parse import quote

from outreach.kernel import TRACKING_KEY, PluginContext, address_of, sign_token


class Links:
    """Makes the links of one message (the key is read once, when first needed)."""

    def __init__(self, context: PluginContext, base_url: str, email_id: int) -> None:
        self._key = context.signing_key(TRACKING_KEY)
        self.base_url = base_url.rstrip("/")
        self.email_id = email_id

    def unsubscribe(self) -> str:
        """The unsubscribe page (and one-click endpoint) of this message."""
        return f"{self.base_url}/u/{sign_token(self._key, 'unsubscribe', self.email_id)}"

    def pixel(self) -> str:
        """The open pixel of this message."""
        return f"{self.base_url}/t/o/{sign_token(self._key, 'open', self.email_id)}"

    def click(self, url: str) -> str:
        """``url`` behind this message's click redirect."""
        token = sign_token(self._key, "click", self.email_id, url)
        return f"{self.base_url}/t/c/{token}?u={quote(url, safe='')}"

    def is_ours(self, url: str) -> bool:
        """Whether ``url`` already leads to this outreach (it is never wrapped again)."""
        return url.startswith(self.base_url + "/")


@functools.lru_cache(maxsize=256)
def unsubscribe_mailto(from_address: str, reply_to: str | None) -> str | None:
    """``mailto:`` for unsubscribing by email: the address replies go to, subject "unsubscribe".

    Cached: the same mailbox address is parsed for every message it sends.
    """
    address = address_of(reply_to or from_address)
    if "@" not in address:
        return None
    return f"mailto:{address}?subject=unsubscribe"
