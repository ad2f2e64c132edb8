"""What every command shares: settings, opening the runtime, errors as sentences, JSON out.

Only click is imported here at module level: ``outreach --help`` imports this module, and
the kernel, structlog and msgspec are imported by the functions that use them.

Errors: an :class:`~outreach.kernel.errors.OutreachError` is printed as its sentence; any
other exception as one sentence naming the log file, with the traceback (never its local
variables, which hold addresses and email bodies) written to that file only. Output into
a pipe whose reader has gone (``outreach leads list | head -1``) ends the command quietly
with exit status 141, what a shell reports for ``ls | head`` (128 + SIGPIPE).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import select
import sys
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    import asyncio

    from outreach.kernel.config import Settings

T = TypeVar("T")

#: Who the audit log names for changes made from the command line.
CLI_ACTOR = "cli"

#: The exit status after the reader of stdout went away: 128 + SIGPIPE, as for ``ls | head``.
EXIT_PIPE_CLOSED = 141

#: The logger of unexpected errors; it writes to the log file only, never to the console.
CRASH_LOGGER = "outreach.cli.crash"


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
            from outreach.kernel.config import load_settings

            self._settings = load_settings(self.config, data_dir=self.data_dir)
        return self._settings


def state(ctx: click.Context) -> CliState:
    """The global options of this invocation."""
    return ctx.find_root().ensure_object(CliState)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a sentence to stderr and exit non-zero."""
    click.secho(f"Error: {message}", fg="red", err=True)
    sys.exit(code)


def stop_on_signals(stop: asyncio.Event) -> None:
    """Set ``stop`` on Ctrl+C, a termination request or a closed terminal, on every platform.

    Windows' event loops take no signal handlers (``add_signal_handler`` raises), and
    there is no SIGTERM to catch but a SIGBREAK (Ctrl+Break); there the handler is set
    with :func:`signal.signal` and hands the stop to the loop.
    """
    import asyncio
    import signal

    loop = asyncio.get_running_loop()
    # SIGHUP: the terminal the command runs in was closed.
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK"):
        number = getattr(signal, name, None)
        if number is None:
            continue
        try:
            loop.add_signal_handler(number, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):
            signal.signal(number, lambda *_: loop.call_soon_threadsafe(stop.set))


# -- errors ----------------------------------------------------------------------------


def stdout_closed() -> bool:
    """Whether the reader of stdout has gone (a pipe whose other end was closed)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        events = poller.poll(0)
    except (AttributeError, OSError, ValueError):  # not a real file (click's test runner)
        return False
    return any(mask & select.POLLERR for _, mask in events)


def exit_on_closed_pipe() -> NoReturn:
    """End the command quietly: nobody reads what it prints any more."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        # Python flushes stdout again at exit; on /dev/null that flush cannot raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(EXIT_PIPE_CLOSED)


def _crash_log(settings: Settings) -> tuple[logging.Logger, Path]:
    """A logger that writes to the data directory's log file and nowhere else, and that file."""
    from outreach.kernel.logs import configure_logging, log_path

    def file_handlers() -> list[logging.Handler]:
        return [h for h in logging.getLogger().handlers if getattr(h, "baseFilename", None)]

    if not file_handlers():
        # Commands that do not open the runtime never configured logging; the console
        # handler this adds shows nothing below CRITICAL.
        configure_logging(settings.data_path, level=settings.log_level, console_level="critical")
    logger = logging.getLogger(CRASH_LOGGER)
    logger.propagate = False  # the console handler sits on the root logger
    logger.handlers = file_handlers()
    logger.setLevel(logging.ERROR)
    return logger, log_path(settings.data_path)


def log_unexpected(exc: BaseException) -> Path | None:
    """Write ``exc``'s traceback (without local variables) to the log file; return its path."""
    import structlog

    ctx = click.get_current_context(silent=True)
    try:
        logger, path = _crash_log((state(ctx) if ctx else CliState()).settings())
    except Exception:  # no settings, or no writable data directory: nowhere to log to
        return None
    # Formatted here, not left to the log's renderers, so no renderer can add locals.
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    # structlog ends in stdlib logging (configured above), so this reaches ``logger`` only.
    structlog.get_logger(logger.name).error("command_failed", error_type=type(exc).__name__, exception=text)
    return path


def report_unexpected(exc: BaseException) -> NoReturn:
    """Log ``exc`` to the log file and tell the person, in one sentence, where it is."""
    path = log_unexpected(exc)
    where = f"the details are in {path}" if path else "no log file could be written"
    fail(f"outreach hit an unexpected error ({type(exc).__name__}); {where}.")


@contextlib.contextmanager
def errors_as_sentences() -> Iterator[None]:
    """Turn what a command raises into a sentence and an exit status (click's own pass)."""
    try:
        yield
    except (click.ClickException, click.exceptions.Abort, click.exceptions.Exit):
        raise
    except BrokenPipeError as exc:
        if not stdout_closed():
            report_unexpected(exc)  # a socket's, not stdout's
        exit_on_closed_pipe()
    except Exception as exc:
        from outreach.kernel.errors import OutreachError

        if isinstance(exc, OutreachError):
            fail(str(exc))
        report_unexpected(exc)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; what it raises becomes a sentence (see :func:`errors_as_sentences`)."""
    import asyncio

    from outreach.kernel.request_context import request_scope

    with errors_as_sentences(), request_scope():
        return asyncio.run(coro)


def _runtime_command(func: Callable[..., Awaitable[T]], *, plugins: bool) -> Callable[..., T]:
    @functools.wraps(func)
    @click.pass_context
    def wrapper(ctx: click.Context, /, *args: Any, **kwargs: Any) -> T:
        cli_state = state(ctx)

        async def main() -> T:
            from outreach.kernel.logs import configure_logging
            from outreach.kernel.runtime import Runtime

            settings = cli_state.settings()
            configure_logging(
                settings.data_path,
                level=settings.log_level,
                console_level="debug" if cli_state.verbose else "warning",
            )
            rt = await Runtime.open(settings, plugins=plugins)
            try:
                return await func(rt, *args, **kwargs)
            finally:
                await rt.close()

        return run(main())

    return wrapper


def with_runtime(func: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    """Decorate an async command body ``func(rt, ...)``: open the runtime, run, close."""
    return _runtime_command(func, plugins=True)


def with_store(func: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    """Like :func:`with_runtime` for a command that only reads the store: no plugin is loaded."""
    return _runtime_command(func, plugins=False)


# -- output ----------------------------------------------------------------------------


def to_json(value: Any) -> str:
    """Pretty JSON of Structs, dicts and lists (datetimes as ISO text)."""
    import json

    import msgspec

    return json.dumps(msgspec.to_builtins(value), indent=2, ensure_ascii=False, default=str)


def echo_json(value: Any) -> None:
    """Print ``value`` as JSON on stdout."""
    click.echo(to_json(value))


async def echo_json_rows(rows: AsyncIterator[Any]) -> None:
    """Print ``rows`` as one JSON array while they come, the very text :func:`echo_json` prints
    for the whole list; the whole list is never held in memory."""
    count = 0
    # aclosing: a failed write (a closed pipe) ends the generator, and its read
    # transaction, now, before the runtime closes the connections under it.
    async with contextlib.aclosing(rows) as items:
        async for row in items:
            # JSON text has no raw newline inside strings, so this indents the item as a whole.
            item = to_json(row).replace("\n", "\n  ")
            click.echo(("[\n  " if count == 0 else ",\n  ") + item, nl=False)
            count += 1
    click.echo("\n]" if count else "[]")


async def rows_of(items: Sequence[Any]) -> AsyncIterator[Any]:
    """``items`` as the rows :func:`echo_json_rows` takes."""
    for item in items:
        yield item


# -- paging ----------------------------------------------------------------------------

#: Rows per page of a human-readable list when ``--per-page`` is not given.
DEFAULT_PER_PAGE = 100

#: Rows read per query when a list prints every row.
BATCH = 500


def paging_options(default_per_page: int = DEFAULT_PER_PAGE) -> Callable[[Callable[..., Any]], Any]:
    """Add ``--page`` and ``--per-page`` to a list command (``page``, ``per_page``; None if not given)."""

    def decorate(func: Callable[..., Any]) -> Any:
        func = click.option(
            "--per-page",
            type=int,
            default=None,
            help=f"Rows per page (default {default_per_page}).",
        )(func)
        return click.option(
            "--page",
            type=int,
            default=None,
            help="Which page to print (default 1). Without --page and --per-page, --json prints every row.",
        )(func)

    return decorate


@dataclass(frozen=True)
class Paging:
    """What ``--page`` and ``--per-page`` asked for."""

    page: int | None
    per_page: int | None
    default_per_page: int = DEFAULT_PER_PAGE

    @property
    def given(self) -> bool:
        """Whether either option was given."""
        return self.page is not None or self.per_page is not None

    @property
    def number(self) -> int:
        """The page asked for (pages count from 1)."""
        return max(1, self.page or 1)

    @property
    def size(self) -> int:
        """Rows per page."""
        return max(1, self.per_page or self.default_per_page)

    def every_row(self, as_json: bool) -> bool:
        """Whether to print every row: JSON asked for, and no page."""
        return as_json and not self.given

    def slice(self, items: Sequence[T]) -> list[T]:
        """This page of ``items``."""
        start = (self.number - 1) * self.size
        return list(items[start : start + self.size])


def echo_header(*columns: str) -> None:
    """Print a list's header line (its column names, as its rows lay them out)."""
    click.echo("  ".join(columns).rstrip())
