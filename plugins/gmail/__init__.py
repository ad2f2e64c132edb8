"""Built-in plugin ``gmail``: send through the Gmail API (OAuth2 refresh token, no SMTP).

``[sender.gmail]`` names the OAuth client and the account's refresh token as secret
references; a mailbox may name its own account's token in
``[mailboxes.settings.gmail]``. Follow-ups carry the first email's ``threadId`` so
Gmail keeps the thread, and a Message-ID can be looked up
(``users.messages.list?q=rfc822msgid:``), so an interrupted send is settled by itself.

Each mailbox that sends through ``gmail`` is also a reply source (``gmail:<mailbox>``):
replies and bounces are read from the account's inbox through the same API
(``inbound = false`` in its settings turns that off).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from outreach.kernel import (
    ConfigError,
    OutgoingMessage,
    PluginContext,
    ReplySource,
    Sender,
    SendReceipt,
    hookimpl,
    mime_bytes,
)

from .api import GmailAccount, GmailOptions
from .inbound import GmailReplySource, gmail_mailboxes


class GmailSender:
    """Sends each mailbox's messages through its Gmail account."""

    name = "gmail"

    def __init__(self, context: PluginContext) -> None:
        self._context = context
        self._client: httpx.AsyncClient | None = None
        self._accounts: dict[str | None, GmailAccount] = {}

    def _account(self, mailbox: str | None) -> GmailAccount:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False)
        if mailbox not in self._accounts:
            options = self._context.mailbox_sender_options("gmail", mailbox, GmailOptions)
            self._accounts[mailbox] = GmailAccount(options, self._client)
        return self._accounts[mailbox]

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        """``users.messages.send`` with the raw RFC 822 message, base64url-encoded."""
        raw = base64.urlsafe_b64encode(mime_bytes(message)).decode("ascii")
        answer = await self._account(message.mailbox).send(raw, message.thread_id)
        return SendReceipt(
            message_id=message.message_id,
            provider_message_id=answer.get("id"),
            provider_thread_id=answer.get("threadId"),
            accepted_at=datetime.now(UTC),
            detail="accepted by the Gmail API",
        )

    async def lookup(self, message_id: str, mailbox: str | None = None) -> SendReceipt | None:
        """Search the mailbox's account for the Message-ID."""
        found = await self._account(mailbox).find(message_id)
        if found is None:
            return None
        return SendReceipt(
            message_id=message_id,
            provider_message_id=found.get("id"),
            provider_thread_id=found.get("threadId"),
            detail="found in the Gmail account",
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None


@hookimpl
def register_config_tables(register: Callable[[str, type], None]) -> None:
    """Declare ``[sender.gmail]`` (and mailboxes' overrides of it), so a typo is an error at start-up."""
    register("sender.gmail", GmailOptions)


@hookimpl
def register_senders(register: Callable[[Sender], None], context: PluginContext) -> None:
    """Provide the ``gmail`` sender (it reads ``[sender.gmail]`` when it first sends)."""
    register(GmailSender(context))


@hookimpl
def register_reply_sources(register: Callable[[ReplySource], None], context: PluginContext) -> None:
    """A reply source for each mailbox that sends through ``gmail`` (its options read now)."""
    for mailbox in gmail_mailboxes(context):
        try:
            options = context.mailbox_sender_options("gmail", mailbox, GmailOptions)
        except ConfigError:
            continue  # the sender says what is wrong with [sender.gmail] when it first sends
        if options.inbound:
            register(GmailReplySource(mailbox, options, context))
