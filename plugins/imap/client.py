"""A small IMAP session over aioimaplib: log in, read new messages by UID, wait with IDLE.

Messages are fetched with ``BODY.PEEK[]`` so reading them never marks them as read in
the person's own mailbox.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import AsyncIterator

import aioimaplib

from outreach.kernel import ConfigError

_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_FETCH_UID = re.compile(rb"UID (\d+)")


class ImapError(ConfigError):
    """The IMAP server refused us or could not be reached."""


class ImapSession:
    """One logged-in connection to one folder."""

    def __init__(self, client: aioimaplib.IMAP4) -> None:
        self._client = client
        self.uidvalidity: int | None = None

    @classmethod
    async def open(
        cls, host: str, port: int, username: str, password: str, *, tls: str, command_timeout: float
    ) -> ImapSession:
        """Connect and log in; a sentence saying what failed if either does not work."""
        try:
            if tls == "ssl":
                client: aioimaplib.IMAP4 = aioimaplib.IMAP4_SSL(
                    host=host, port=port, timeout=command_timeout, ssl_context=ssl.create_default_context()
                )
            else:
                client = aioimaplib.IMAP4(host=host, port=port, timeout=command_timeout)
            await client.wait_hello_from_server()
        except (OSError, TimeoutError) as exc:
            raise ImapError(
                f"Cannot reach the IMAP server {host}:{port} ({exc}); check host, port and tls."
            ) from None
        response = await client.login(username, password)
        if response.result != "OK":
            await _quietly_logout(client)
            raise ImapError(f"The IMAP server {host} refused the login for {username}; check the password.")
        return cls(client)

    async def select(self, folder: str) -> int:
        """Open ``folder`` and return its UIDVALIDITY (messages are only ever peeked at)."""
        response = await self._client.select(folder)
        if response.result != "OK":
            raise ImapError(f"The IMAP folder '{folder}' cannot be opened: {_text(response.lines)}")
        for line in response.lines:
            match = _UIDVALIDITY.search(bytes(line))
            if match:
                self.uidvalidity = int(match.group(1))
        if self.uidvalidity is None:
            raise ImapError(f"The IMAP server gave no UIDVALIDITY for '{folder}'.")
        return self.uidvalidity

    async def messages_after(self, last_uid: int, batch: int = 50) -> AsyncIterator[tuple[int, bytes]]:
        """Yield ``(uid, raw message)`` for every message with a UID above ``last_uid``."""
        response = await self._client.uid_search(f"UID {last_uid + 1}:*")
        uids = sorted(int(u) for line in response.lines for u in bytes(line).split() if u.isdigit())
        uids = [uid for uid in uids if uid > last_uid]
        for start in range(0, len(uids), batch):
            chunk = uids[start : start + batch]
            fetched = await self._client.uid("fetch", ",".join(map(str, chunk)), "(UID BODY.PEEK[])")
            for uid, raw in _messages(fetched.lines):
                yield uid, raw

    async def search_header(self, name: str, value: str) -> list[int]:
        """UIDs of messages whose header ``name`` contains ``value``."""
        response = await self._client.uid_search("HEADER", name, f'"{value}"')
        return [int(u) for line in response.lines for u in bytes(line).split() if u.isdigit()]

    def supports_idle(self) -> bool:
        """Whether the server announced IDLE."""
        return "IDLE" in self._client.protocol.capabilities

    async def wait_for_news(self, max_wait: float) -> None:
        """Return when the server reports a change (IDLE) or after ``max_wait`` seconds."""
        idle = await self._client.idle_start(timeout=max_wait)
        try:
            await self._client.wait_server_push(timeout=max_wait)
        except TimeoutError:
            pass
        finally:
            self._client.idle_done()
            await asyncio.wait_for(idle, timeout=10)

    async def close(self) -> None:
        """Log out, ignoring a connection that is already gone."""
        await _quietly_logout(self._client)


def _messages(lines: list[bytes | bytearray]) -> list[tuple[int, bytes]]:
    found = []
    for index, line in enumerate(lines[:-1]):
        following = lines[index + 1]
        if isinstance(line, bytes) and isinstance(following, bytearray):
            match = _FETCH_UID.search(line)
            if match:
                found.append((int(match.group(1)), bytes(following)))
    return found


def _text(lines: list[bytes | bytearray]) -> str:
    return " ".join(bytes(line).decode(errors="replace") for line in lines)[:200]


async def _quietly_logout(client: aioimaplib.IMAP4) -> None:
    try:
        await asyncio.wait_for(client.logout(), timeout=5)
    except (aioimaplib.AioImapException, OSError, TimeoutError):
        return
