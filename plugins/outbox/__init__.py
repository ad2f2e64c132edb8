"""Built-in plugin ``outbox``: the default sender, which sends nothing.

Each message is written as an ``.eml`` file under ``<data dir>/outbox/`` (or
``[sender.outbox] directory``), named after its Message-ID, so a person can read
exactly what would have gone out. Because the file name is the Message-ID, the
sender can also tell whether a message was already written (``lookup``).

The files are plain messages by design, readable by whoever can read the folder;
that is why the folder is 0700 and each file 0600.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from outreach.kernel import (
    OutgoingMessage,
    PluginContext,
    Sender,
    SendReceipt,
    hookimpl,
    mime_bytes,
    private_dir,
    write_private,
)


class OutboxOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[sender.outbox]``."""

    directory: str | None = None


def _file_name(message_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@-]", "_", message_id.strip("<>")) + ".eml"


class OutboxSender:
    """Writes each message to a file instead of sending it."""

    name = "outbox"
    #: Nothing reaches anyone, so the legal footer need not be configured yet.
    delivers = False

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        """Write ``message`` as ``<Message-ID>.eml`` (atomically) and return a receipt."""
        # Plain messages, addresses and bodies in clear: the folder is 0700 and each file 0600.
        private_dir(self.directory)
        path = self.directory / _file_name(message.message_id)
        write_private(path, mime_bytes(message))
        return SendReceipt(
            message_id=message.message_id,
            provider_message_id=str(path),
            accepted_at=datetime.now(UTC),
            detail=f"written to {path}",
        )

    async def lookup(self, message_id: str, mailbox: str | None = None) -> SendReceipt | None:
        """The receipt of a message already written, or None."""
        path = self.directory / _file_name(message_id)
        if not path.exists():
            return None
        return SendReceipt(message_id=message_id, provider_message_id=str(path), detail=f"found {path}")


def _directory(context: PluginContext) -> Path:
    options = context.sender_options("outbox", OutboxOptions)
    return Path(options.directory).expanduser() if options.directory else context.data_dir / "outbox"


@hookimpl
def register_config_tables(register: Callable[[str, type], None]) -> None:
    """Declare ``[sender.outbox]``, so a typo in it is an error at start-up."""
    register("sender.outbox", OutboxOptions)


@hookimpl
def register_senders(register: Callable[[Sender], None], context: PluginContext) -> None:
    """Provide the ``outbox`` sender."""
    register(OutboxSender(_directory(context)))


@hookimpl
def address_erased(message_ids: list[str], context: PluginContext) -> None:
    """Delete the files of the messages written to an address that was erased."""
    directory = _directory(context)
    for message_id in message_ids:
        (directory / _file_name(message_id)).unlink(missing_ok=True)
