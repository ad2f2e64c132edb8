"""Built-in plugin ``imap``: replies, auto-replies and bounces read from IMAP mailboxes.

Each ``[[plugins.imap.accounts]]`` entry becomes a reply source named
``imap:<name>``. It remembers the folder's UIDVALIDITY and the last UID it handed over,
so a restart reads only what is new, and a folder whose UIDVALIDITY changed is read
again from the start (the kernel recognizes messages it already saw by Message-ID).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Literal

import msgspec

from outreach.kernel import InboundMessage, PluginContext, ReplySource, SecretRef, hookimpl

from .client import ImapSession

PLUGIN = "imap"


class ImapAccount(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One mailbox to read."""

    name: str
    host: str
    port: int = 993
    #: ``ssl`` (implicit TLS, port 993) or ``none`` (plain, for loopback and tests).
    tls: Literal["ssl", "none"] = "ssl"
    username: str
    password: SecretRef
    folder: str = "INBOX"
    timeout: float = 30.0
    #: Seconds to wait between polls; with IDLE the server may wake us sooner.
    poll_seconds: float = 60.0


class ImapOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[plugins.imap]``."""

    accounts: list[ImapAccount] = []


class ImapReplySource:
    """New messages of one IMAP folder, in UID order, each handed over once."""

    def __init__(self, account: ImapAccount, context: PluginContext) -> None:
        self.account = account
        self.name = f"imap:{account.name}"
        self._context = context
        self._state_key = f"{account.name}:{account.folder}"

    async def _session(self) -> ImapSession:
        account = self.account
        return await ImapSession.open(
            account.host,
            account.port,
            account.username,
            account.password.resolve(),
            tls=account.tls,
            command_timeout=account.timeout,
        )

    async def fetch(self) -> AsyncIterator[InboundMessage]:
        """Yield each message not yet handed over; progress is saved after each one is taken."""
        state = await self._context.load_state(PLUGIN, self._state_key, {}) or {}
        session = await self._session()
        try:
            uidvalidity = await session.select(self.account.folder)
            last_uid = state.get("last_uid", 0) if state.get("uidvalidity") == uidvalidity else 0
            async for uid, raw in session.messages_after(last_uid):
                yield InboundMessage(
                    raw=raw,
                    source=self.name,
                    mailbox=self.account.folder,
                    uid=f"{uidvalidity}:{uid}",
                    received_at=datetime.now(UTC),
                )
                # Saved once the consumer asks for the next message, i.e. after it handled this one.
                await self._context.save_state(
                    PLUGIN, self._state_key, {"uidvalidity": uidvalidity, "last_uid": uid}
                )
        finally:
            await session.close()

    async def wait(self, max_wait: float) -> None:
        """Wait up to ``max_wait`` seconds for new mail, returning early on an IDLE push."""
        session = await self._session()
        try:
            await session.select(self.account.folder)
            if session.supports_idle():
                await session.wait_for_news(min(max_wait, self.account.poll_seconds))
                return
        finally:
            await session.close()
        await asyncio.sleep(min(max_wait, self.account.poll_seconds))


@hookimpl
def register_config_tables(register: Callable[[str, type], None]) -> None:
    """Declare ``[plugins.imap]``, so a typo in it is an error at start-up."""
    register("plugins.imap", ImapOptions)


@hookimpl
def register_reply_sources(register: Callable[[ReplySource], None], context: PluginContext) -> None:
    """One reply source per configured account."""
    for account in context.plugin_options(PLUGIN, ImapOptions).accounts:
        register(ImapReplySource(account, context))
