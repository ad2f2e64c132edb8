"""The SMTP sender: one reused connection per mailbox, and SMTP replies mapped to outreach's errors.

A reply the server gave settles the matter: 4xx is transient, 5xx permanent, with
the server's words kept. A connection that cannot be made, or a login refused, makes
the server *unavailable* (a failover sender may take over). A connection lost while
the message itself was being handed over is *uncertain*: the server may have
accepted it, so it is never resent blindly.

The outbox worker's hand-over mark (``ready``) is written after MAIL FROM and RCPT TO
and before DATA: a server cannot accept a message before its DATA, so a send that
dies during the connection or the envelope is known never to have reached it.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime

import aiosmtplib

from outreach.kernel import (
    LookupUnsupported,
    OutgoingMessage,
    PermanentSendError,
    PluginContext,
    SenderUnavailable,
    SendReceipt,
    TransientSendError,
    UncertainSendError,
    address_of,
    mime_bytes,
    needs_smtputf8,
    sendable_address,
)

from .dkim import sign_message
from .options import SmtpOptions
from .sent_folder import find_message

_LOST = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, ConnectionError, TimeoutError)


def _reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}".strip()


def _from_reply(exc: aiosmtplib.SMTPResponseException, what: str) -> Exception:
    reply = _reply(exc)
    if 400 <= exc.code < 500:
        return TransientSendError(f"the server deferred {what}", reply=reply)
    return PermanentSendError(f"the server refused {what}", reply=reply)


class _Connection:
    """One SMTP session, reused for one mailbox's messages one at a time."""

    def __init__(self, options: SmtpOptions) -> None:
        self.options = options
        self.lock = asyncio.Lock()
        self.client: aiosmtplib.SMTP | None = None
        self.last_used = 0.0

    async def open(self) -> aiosmtplib.SMTP:
        options = self.options
        if self.client is not None and self.client.is_connected:
            if time.monotonic() - self.last_used < options.idle_seconds:
                return self.client
            await self.close()
        client = aiosmtplib.SMTP(
            hostname=options.host,
            port=options.port,
            use_tls=options.tls,
            start_tls=False if options.tls else options.starttls,
            validate_certs=options.validate_certs,
            cert_bundle=options.cert_bundle,
            timeout=options.timeout,
            local_hostname=options.local_hostname,
        )
        where = f"{options.host}:{options.port}"
        try:
            password = options.password.resolve() if options.password else None
            await client.connect()
            if options.username:
                await client.login(options.username, password or "")
        except aiosmtplib.SMTPAuthenticationError as exc:
            client.close()
            raise SenderUnavailable(
                f"{where} refused the login for {options.username}; check the username and password",
                reply=_reply(exc),
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            client.close()
            raise SenderUnavailable(f"{where} refused the connection", reply=_reply(exc)) from None
        except (aiosmtplib.SMTPException, OSError, ssl.SSLError, TimeoutError) as exc:
            client.close()
            raise SenderUnavailable(f"cannot connect to {where}: {exc}") from None
        except Exception as exc:  # a secret that cannot be resolved, a bad option
            client.close()
            raise SenderUnavailable(f"cannot connect to {where}: {exc}") from None
        self.client = client
        return client

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            if client.is_connected:
                await asyncio.wait_for(client.quit(), timeout=5)
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()


class SmtpSender:
    """Sends through an SMTP server (STARTTLS or implicit TLS, AUTH), reusing connections."""

    name = "smtp"

    def __init__(self, context: PluginContext) -> None:
        self._context = context
        self._options: dict[str | None, SmtpOptions] = {}
        self._connections: dict[str | None, _Connection] = {}

    def options(self, mailbox: str | None) -> SmtpOptions:
        """The settings for ``mailbox``: ``[sender.smtp]`` with the mailbox's overrides."""
        if mailbox not in self._options:
            self._options[mailbox] = self._context.mailbox_sender_options("smtp", mailbox, SmtpOptions)
        return self._options[mailbox]

    def _connection(self, mailbox: str | None) -> _Connection:
        if mailbox not in self._connections:
            self._connections[mailbox] = _Connection(self.options(mailbox))
        return self._connections[mailbox]

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        """Deliver ``message`` over the mailbox's connection; see the module doc for the errors."""
        return await self.send_when_ready(message, None)

    async def send_when_ready(
        self, message: OutgoingMessage, ready: Callable[[], None] | None
    ) -> SendReceipt:
        """Like :meth:`send`, calling ``ready()`` (when given) after RCPT TO and before DATA."""
        sender = sendable_address(address_of(message.from_address))
        recipient = sendable_address(address_of(message.to_address))
        if not recipient or "@" not in recipient:
            raise PermanentSendError(f"'{message.to_address}' is not an email address")
        options = self.options(message.mailbox)
        data = sign_message(
            mime_bytes(message), message.from_address, options.dkim_selector, options.dkim_private_key
        )
        connection = self._connection(message.mailbox)
        async with connection.lock:
            reused = connection.client is not None and connection.client.is_connected
            client = await connection.open()
            try:
                await self._envelope(client, sender, recipient)
            except _LOST:
                # A reused connection the server had dropped: nothing was handed over, so
                # connect again once; a fresh connection lost here is a transient error.
                await connection.close()
                if not reused:
                    raise TransientSendError("the connection dropped before the message was sent") from None
                client = await connection.open()
                try:
                    await self._envelope(client, sender, recipient)
                except _LOST:
                    await connection.close()
                    raise TransientSendError("the connection dropped before the message was sent") from None
            if ready is not None:
                try:
                    ready()
                except BaseException:
                    # Not to be sent: drop the half-open transaction with the connection.
                    connection.client = None
                    client.close()
                    raise
            try:
                response = await client.data(data)
            except aiosmtplib.SMTPResponseException as exc:
                await self._reset(connection)
                raise _from_reply(exc, "the message") from None
            except _LOST as exc:
                await connection.close()
                raise UncertainSendError(
                    f"the connection was lost while the server took the message ({exc})"
                ) from None
            connection.last_used = time.monotonic()
        return SendReceipt(
            message_id=message.message_id,
            accepted_at=datetime.now(UTC),
            detail=f"{response.code} {response.message}".strip(),
        )

    async def _envelope(self, client: aiosmtplib.SMTP, sender: str, recipient: str) -> None:
        utf8 = needs_smtputf8(sender) or needs_smtputf8(recipient)
        if utf8:
            if client.is_ehlo_or_helo_needed:
                await client.ehlo()
            if not client.supports_extension("smtputf8"):
                await self._quiet_reset(client)
                raise PermanentSendError(
                    f"the address {recipient if needs_smtputf8(recipient) else sender} has a non-ASCII "
                    f"part before the @, and {self._where(client)} does not offer SMTPUTF8, which "
                    "such an address needs; send through a server that offers it, or use an ASCII address"
                )
        mail_options, encoding = (["SMTPUTF8"], "utf-8") if utf8 else ([], "ascii")
        try:
            await client.mail(sender, options=mail_options, encoding=encoding)
        except aiosmtplib.SMTPResponseException as exc:
            await self._quiet_reset(client)
            raise _from_reply(exc, f"the sender {sender}") from None
        try:
            await client.rcpt(recipient, encoding=encoding)
        except aiosmtplib.SMTPResponseException as exc:
            await self._quiet_reset(client)
            raise _from_reply(exc, "the recipient") from None

    @staticmethod
    def _where(client: aiosmtplib.SMTP) -> str:
        return f"the server {client.hostname}:{client.port}"

    async def _quiet_reset(self, client: aiosmtplib.SMTP) -> None:
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()

    async def _reset(self, connection: _Connection) -> None:
        if connection.client is not None:
            await self._quiet_reset(connection.client)

    async def lookup(self, message_id: str, mailbox: str | None = None) -> SendReceipt | None:
        """Search the mailbox's Sent folder (``sent_folder``) for ``message_id``."""
        options = self.options(mailbox).sent_folder
        if options is None:
            raise LookupUnsupported("[sender.smtp] has no sent_folder to search")
        found = await asyncio.to_thread(find_message, options, message_id)
        if not found:
            return None
        return SendReceipt(message_id=message_id, detail=f"found in {options.folder} on {options.host}")

    async def aclose(self) -> None:
        """Close every open connection politely."""
        for connection in list(self._connections.values()):
            await connection.close()
