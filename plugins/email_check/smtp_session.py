"""One conversation with a mail server about recipients: EHLO, MAIL FROM, RCPT TO..., QUIT.

No message is ever sent: the conversation ends with ``QUIT`` and never reaches
``DATA``. It asks about the given addresses in order (stopping at the first one
accepted when told to), and, when one was accepted, about a random address on the
same domain, which tells a catch-all server apart. What the server answered is
kept as it was; :mod:`.probe` judges it.
"""

from __future__ import annotations

import asyncio
import secrets
import socket

import aiosmtplib
import msgspec

from .replies import ACCEPTED


class Reply(msgspec.Struct, frozen=True):
    """A server's reply: its code and text."""

    code: int
    message: str


class Failure(msgspec.Struct, frozen=True, kw_only=True):
    """Why the conversation stopped before every address was asked about.

    ``cause`` is ``unreachable`` (no connection), ``timeout``, ``disconnected``,
    ``blocked`` (the greeting, EHLO or MAIL FROM refused for good) or ``greylisted``
    (refused for now).
    """

    cause: str
    detail: str
    reply: Reply | None = None


class Conversation(msgspec.Struct, kw_only=True):
    """What one conversation learned."""

    host: str
    port: int
    connected: bool = False
    #: The reply to each address asked about, in the order asked.
    answers: dict[str, Reply] = {}
    random_address: str | None = None
    random_reply: Reply | None = None
    failure: Failure | None = None


def random_address(domain: str) -> str:
    """An address on ``domain`` that no one has: a catch-all server accepts it anyway."""
    return f"no-such-mailbox-{secrets.token_hex(6)}@{domain}"


def _why(exc: OSError, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no connection within {timeout:g} s"
    return exc.strerror or str(exc) or type(exc).__name__


def _command_failure(exc: aiosmtplib.SMTPException, timeout: float) -> Failure:
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return Failure(cause="timeout", detail=f"no answer within {timeout:g} s")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        reply = Reply(exc.code, exc.message)
        cause = "greylisted" if 400 <= exc.code < 500 else "blocked"
        return Failure(cause=cause, detail="the server refused to talk", reply=reply)
    return Failure(cause="disconnected", detail=f"the server closed the connection ({exc})")


class SmtpConversation:
    """Talks to one mail server as a prober: a configured EHLO name and MAIL FROM address."""

    def __init__(self, helo: str, sender: str, timeout: float) -> None:
        self.helo = helo
        self.sender = sender
        self.timeout = timeout

    async def ask(
        self, host: str, address: str, port: int, recipients: list[str], *, first_only: bool
    ) -> Conversation:
        """Ask the server at ``address:port`` (the mail server ``host``) about ``recipients``."""
        talk = Conversation(host=host, port=port)
        try:
            sock = await self._connect(address, port)
        except OSError as exc:
            talk.failure = Failure(cause="unreachable", detail=_why(exc, self.timeout))
            return talk
        talk.connected = True
        client = aiosmtplib.SMTP(sock=sock, local_hostname=self.helo, timeout=self.timeout, start_tls=False)
        try:
            await client.connect()
        except aiosmtplib.SMTPException as exc:
            talk.failure = _command_failure(exc, self.timeout)
            return talk
        try:
            await self._converse(client, talk, recipients, first_only)
        except aiosmtplib.SMTPException as exc:
            talk.failure = _command_failure(exc, self.timeout)
        finally:
            client.close()
        return talk

    async def _connect(self, address: str, port: int) -> socket.socket:
        """A TCP connection to the server, made here so that "no connection" and "no greeting" differ."""
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            async with asyncio.timeout(self.timeout):
                await asyncio.get_running_loop().sock_connect(sock, (address, port))
        except BaseException:
            sock.close()
            raise
        return sock

    async def _converse(
        self, client: aiosmtplib.SMTP, talk: Conversation, recipients: list[str], first_only: bool
    ) -> None:
        await client.ehlo()
        sender = await client.execute_command(b"MAIL", b"FROM:<" + self.sender.encode() + b">")
        if sender.code != 250:
            cause = "greylisted" if 400 <= sender.code < 500 else "blocked"
            talk.failure = Failure(
                cause=cause, detail="the server refused the sender", reply=Reply(sender.code, sender.message)
            )
            await self._quit(client)
            return
        accepted = False
        for recipient in recipients:
            reply = await self._rcpt(client, recipient)
            talk.answers[recipient] = reply
            accepted = accepted or reply.code in ACCEPTED
            if first_only and reply.code in ACCEPTED:
                break
        if accepted:
            talk.random_address = random_address(recipients[0].rpartition("@")[2])
            talk.random_reply = await self._rcpt(client, talk.random_address)
        await self._quit(client)

    async def _rcpt(self, client: aiosmtplib.SMTP, recipient: str) -> Reply:
        reply = await client.execute_command(b"RCPT", b"TO:<" + recipient.encode() + b">")
        return Reply(reply.code, reply.message)

    async def _quit(self, client: aiosmtplib.SMTP) -> None:
        # The answers are in; a server that mishandles QUIT changes none of them.
        try:
            await client.quit()
        except aiosmtplib.SMTPException:
            client.close()
