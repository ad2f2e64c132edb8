"""What every command shares: settings, opening the runtime, errors as sentences, JSON out."""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click
import msgspec
import structlog

from outreach.kernel.config import Settings, load_settings
from outreach.kernel.errors import OutreachError
from outreach.kernel.logs import configure_logging
from outreach.kernel.request_context import request_scope
from outreach.kernel.runtime import Runtime

T = TypeVar("T")

#: Who the audit log names for changes made from the command line.
CLI_ACTOR = "cli"


@dataclass
class CliState:
    """Global options, kept on the click context."""

    config: str | None = None
    data_dir: str | None = None
    verbose: bool = False
    _settings: Settings | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        """The settings, read once."""
        if self._settings is None:
            self._settings = load_settings(self.config, data_dir=self.data_dir)
        return self._settings


def state(ctx: click.Context) -> CliState:
    """The global options of this invocation."""
    return ctx.find_root().ensure_object(CliState)


def fail(message: str, code: int = 1) -> None:
    """Print a sentence to stderr and exit non-zero."""
    click.secho(f"Error: {message}", fg="red", err=True)
    sys.exit(code)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; an :class:`OutreachError` becomes a sentence and exit code 1."""
    try:
        with request_scope():
            return asyncio.run(coro)
    except OutreachError as exc:
        fail(str(exc))
    except Exception as exc:
        # A bug: keep the traceback in the log file, give the person a sentence.
        structlog.get_logger("outreach.cli").exception("command_failed")
        fail(
            f"outreach hit an unexpected error ({exc!r}); the log file in the data directory has the details."
        )
    raise AssertionError("unreachable")


def with_runtime(func: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    """Decorate an async command body ``func(rt, ...)``: open the runtime, run, close."""

    @functools.wraps(func)
    @click.pass_context
    def wrapper(ctx: click.Context, /, *args: Any, **kwargs: Any) -> T:
        cli_state = state(ctx)

        async def main() -> T:
            settings = cli_state.settings()
            configure_logging(
                settings.data_path,
                level=settings.log_level,
                console_level="debug" if cli_state.verbose else "warning",
            )
            rt = await Runtime.open(settings)
            try:
                return await func(rt, *args, **kwargs)
            finally:
                await rt.close()

        return run(main())

    return wrapper


def to_json(value: Any) -> str:
    """Pretty JSON of Structs, dicts and lists (datetimes as ISO text)."""
    return json.dumps(msgspec.to_builtins(value), indent=2, ensure_ascii=False, default=str)


def echo_json(value: Any) -> None:
    """Print ``value`` as JSON on stdout."""
    click.echo(to_json(value))
