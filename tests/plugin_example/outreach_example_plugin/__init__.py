"""An outreach plugin as a third party writes one: a sender that keeps messages in a list,
and a command.

It imports only ``outreach.kernel``. Installed into the test environment, it proves
that entry points load, that ``outreach plugins`` lists it, and that the config
selects its sender by name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click
import msgspec

from outreach.kernel import OutgoingMessage, PluginContext, Sender, SendReceipt, hookimpl


class ExampleOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[sender.example]``: where to append one JSON line per message."""

    journal: str | None = None


class ExampleSender:
    """Appends each message's headers to a JSON-lines journal."""

    name = "example"

    def __init__(self, journal: Path) -> None:
        self.journal = journal

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        """Record the message and accept it."""
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        with self.journal.open("a", encoding="utf-8") as handle:
            handle.write(
                json.dumps({"message_id": message.message_id, "to": message.to_address}) + os.linesep
            )
        return SendReceipt(message_id=message.message_id, accepted_at=datetime.now(UTC), detail="journaled")


@hookimpl
def register_config_tables(register: Callable[[str, type], None]) -> None:
    """Declare ``[sender.example]``, so a typo in it is an error at start-up."""
    register("sender.example", ExampleOptions)


@hookimpl
def register_senders(register: Callable[[Sender], None], context: PluginContext) -> None:
    """Provide the ``example`` sender."""
    options = context.sender_options("example", ExampleOptions)
    journal = Path(options.journal) if options.journal else context.data_dir / "example-journal.jsonl"
    register(ExampleSender(journal))


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``outreach example-ping``."""

    @cli.command("example-ping")
    def example_ping() -> None:
        """Answer pong (proves that plugin commands reach the CLI)."""
        click.echo("pong from the example plugin")
