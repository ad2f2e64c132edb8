"""Logging: JSON lines in ``<data dir>/logs/outreach.log`` and readable console output.

Event names are past-tense verbs in snake_case (``lead_discovered``, ``emails_sent``)
with ids and durations as fields. Personal data is never logged: log a lead's id,
not its address.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import msgspec
import structlog
from concurrent_log_handler import ConcurrentRotatingFileHandler

from .private_files import FILE_MODE, private_dir

_SHARED = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _json(event: dict[str, object], **_: object) -> str:
    """One event as JSON (msgspec; what it cannot encode is written as its ``repr``)."""
    return msgspec.json.encode(event, enc_hook=repr).decode()


class _RotatingLines(ConcurrentRotatingFileHandler):
    """A size-rotated log file that several processes write and roll over together.

    ``serve`` and ``worker`` write one file: each line is written, and the file rolled
    over, under a lock on a file beside it (portalocker), so no process writes into a
    file another one just renamed and no line is split or lost. The file rolls over
    before a line would take it past ``maxBytes``; each record is formatted once.
    """

    _next_size = 0

    def format(self, record: logging.LogRecord) -> str:
        """Format ``record`` and remember its size for :meth:`shouldRollover`."""
        line = super().format(record)
        self._next_size = len(line.encode("utf-8", "replace")) + len(self.terminator)
        return line

    def shouldRollover(self, record: logging.LogRecord) -> bool:
        """Whether the record about to be written would take the file past ``maxBytes``.

        Asked with the lock held and every writer's lines flushed, so the size on disk
        is the size.
        """
        if self.maxBytes <= 0:
            return False
        try:
            size = os.path.getsize(self.baseFilename)
        except OSError:
            return False
        return size > 0 and size + self._next_size >= self.maxBytes


def _configure_structlog() -> None:
    """structlog's chain, ending in stdlib logging (the same whichever handlers stdlib has)."""
    structlog.configure(
        processors=[
            # Events below every handler's level end here, before any formatting.
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # The chain never changes (only stdlib's handlers do), so a logger may keep the
        # chain it first used rather than look it up on every event.
        cache_logger_on_first_use=True,
    )


def route_to_stdlib() -> None:
    """Send structlog events through stdlib logging, unless logging was configured already.

    structlog's own default prints every event to stdout, which would mix log lines
    into output meant for scripts; through stdlib, an unconfigured process shows only
    warnings, on stderr.
    """
    if structlog.is_configured():
        return
    _configure_structlog()


def log_path(data_dir: Path) -> Path:
    """The JSON log file of the data directory ``data_dir``."""
    return data_dir / "logs" / "outreach.log"


def configure_logging(
    data_dir: Path,
    *,
    level: str = "info",
    console_level: str | None = None,
    max_bytes: int = 10_000_000,
    backups: int = 5,
) -> Path:
    """Send structlog and stdlib logging to the JSON log file and to stderr.

    :param level: the level written to the file.
    :param console_level: the level shown on the console (defaults to ``level``).
    :param max_bytes: the file rolls over before it would grow past this size.
    :param backups: rolled-over files kept (``outreach.log.1`` the newest).
    :return: the log file's path.
    """
    path = log_path(data_dir)
    private_dir(path.parent)

    # The file, its lock and the rolled-over files are 0600: events name leads and jobs.
    file_handler = _RotatingLines(
        path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", chmod=FILE_MODE
    )
    file_handler.setLevel(level.upper())
    file_handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # The traceback of log.exception(...) goes into the line as text.
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(serializer=_json),
            ],
            foreign_pre_chain=_SHARED,
        )
    )
    console = logging.StreamHandler(sys.stderr)
    console.setLevel((console_level or level).upper())
    console.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=structlog.dev.ConsoleRenderer(
                # Rich tracebacks print local variables, which hold addresses and bodies.
                colors=sys.stderr.isatty(),
                exception_formatter=structlog.dev.plain_traceback,
            ),
            foreign_pre_chain=_SHARED,
        )
    )
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_outreach", False):
            root.removeHandler(handler)
            handler.close()
    for handler in (file_handler, console):
        handler._outreach = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if level.lower() == "debug" else logging.INFO)
    # Libraries that chatter at INFO (Piccolo announces the SQLite version per engine).
    for noisy in ("piccolo", "httpx", "httpcore", "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    _configure_structlog()
    return path
