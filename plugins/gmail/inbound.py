"""Replies and bounces from a Gmail account's inbox, through the Gmail API.

Each mailbox that sends through ``gmail`` becomes a reply source ``gmail:<mailbox>``.
Its cursor is a query one: ``users.messages.list`` with ``<inbound_query>
after:<seconds>``, then ``users.messages.get?format=raw`` for each message not yet
handed over. The cursor (the newest message's time, less a margin for messages Gmail
indexes late, and the ids already handed over since then) is saved after each
message is taken, so a restart reads only what is new.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx

from outreach.kernel import InboundMessage, PluginContext

from .api import GmailAccount, GmailOptions

PLUGIN = "gmail"
#: Messages this many seconds older than the newest one seen are still listed, in case
#: Gmail shows them late; the ids already handed over keep them from being read twice.
MARGIN_SECONDS = 600


class GmailReplySource:
    """New messages of one Gmail account's inbox, oldest first, each handed over once."""

    def __init__(self, mailbox: str, options: GmailOptions, context: PluginContext) -> None:
        self.name = f"gmail:{mailbox}"
        self.mailbox = mailbox
        self._options = options
        self._context = context
        self._client: httpx.AsyncClient | None = None
        self._account: GmailAccount | None = None

    def _api(self) -> GmailAccount:
        if self._account is None:
            self._client = httpx.AsyncClient(follow_redirects=False)
            self._account = GmailAccount(self._options, self._client)
        return self._account

    async def fetch(self) -> AsyncIterator[InboundMessage]:
        """Yield each message not yet handed over; the cursor is saved after each one is taken."""
        state = await self._context.load_state(PLUGIN, self.mailbox, {}) or {}
        after = int(state.get("after") or time.time() - self._options.inbound_since_days * 86400)
        seen: dict[str, int] = dict(state.get("seen") or {})
        api = self._api()
        ids = await api.list_ids(f"{self._options.inbound_query} after:{after}")
        for message_id in reversed(ids):
            if message_id in seen:
                continue
            found = await api.raw_message(message_id)
            raw = base64.urlsafe_b64decode(str(found.get("raw", "")) + "==")
            received = int(found.get("internalDate") or time.time() * 1000) // 1000
            yield InboundMessage(
                raw=raw,
                source=self.name,
                mailbox="INBOX",
                uid=message_id,
                received_at=datetime.fromtimestamp(received, UTC),
            )
            seen[message_id] = received
            after = max(after, max(seen.values()) - MARGIN_SECONDS)
            seen = {key: when for key, when in seen.items() if when >= after}
            await self._context.save_state(PLUGIN, self.mailbox, {"after": after, "seen": seen})

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client, self._account = None, None


def gmail_mailboxes(context: PluginContext) -> list[str]:
    """The mailboxes that send through ``gmail`` (``default`` when none is configured)."""
    settings = context.settings
    if not settings.mailboxes:
        return ["default"] if settings.sender.backend == PLUGIN else []
    return [m.name for m in settings.mailboxes if (m.backend or settings.sender.backend) == PLUGIN]
