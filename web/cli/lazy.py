"""A click group that imports a command's module only when that command is looked up.

The command modules import the kernel (half a second); ``outreach --help`` lists the
commands from the short help kept beside each module name instead, and a test checks
that it matches the command's own.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import click


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives, and what ``outreach --help`` says of it."""

    module: str
    attr: str
    help: str


#: Called once, with the group, when a name that no module provides is looked up.
Fallback = Callable[[click.Context, click.Group], None]


class LazyGroup(click.Group):
    """A group whose commands are imported on first use; unknown names ask ``fallback``."""

    def __init__(
        self, *args: object, lazy: dict[str, LazyCommand], fallback: Fallback | None = None, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy
        self.fallback = fallback
        self._fell_back = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, loaded or not (not those only the fallback would add)."""
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command ``cmd_name``, importing its module, or asking the fallback, first."""
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self._load(cmd_name)
        if cmd_name not in self.commands and self.fallback is not None and not self._fell_back:
            self._fell_back = True
            self.fallback(ctx, self)
        return self.commands.get(cmd_name)

    def _load(self, name: str) -> None:
        """Import the module of ``name`` and add its command."""
        entry = self.lazy[name]
        module = importlib.import_module(entry.module, __package__)
        self.add_command(getattr(module, entry.attr), name)

    def help_line(self, name: str, limit: int) -> str:
        """What ``--help`` says of ``name``, without importing it if it is not loaded yet."""
        if name in self.commands:
            return self.commands[name].get_short_help_str(limit)
        # A stand-in with the same help, so the text is shortened exactly as click would.
        return click.Command(name, help=self.lazy[name].help).get_short_help_str(limit)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The ``Commands:`` section, as click writes it, from the short helps."""
        names = [
            name for name in self.list_commands(ctx) if name in self.lazy or not self.commands[name].hidden
        ]
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        with formatter.section("Commands"):
            formatter.write_dl([(name, self.help_line(name, limit)) for name in names])
