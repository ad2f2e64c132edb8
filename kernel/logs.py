"""Logging: JSON lines in ``<data dir>/logs/outreach.log`` and readable console output.

Event names are past-tense verbs in snake_case (``lead_discovered``, ``emails_sent``)
with ids and durations as fields. Personal data is never logged: log a lead's id,
not its address.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

import msgspec
import structlog

_SHARED = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _json(event: dict[str, object], **_: object) -> str:
    """One event as JSON (msgspec; what it cannot encode is written as its ``repr``)."""
    return msgspec.json.encode(event, enc_hook=repr).decode()


class _RotatingLines(logging.handlers.RotatingFileHandler):
    """A size-rotated log file that formats each record once.

    The standard handler formats every record twice, once only to measure it for the
    rollover; with many events a second (inbound mail, pages, the outbox) that shows.
    """

    def emit(self, record: logging.LogRecord) -> None:
        """Write ``record`` as one line, rolling the file over first if it would grow too big."""
        try:
            line = self.format(record) + self.terminator
            if self.stream is None:
                self.stream = self._open()
            if self.maxBytes:
                self.stream.seek(0, 2)  # the end, wherever other processes writing to it left it
            if self.maxBytes and self.stream.tell() + len(line) >= self.maxBytes:
                self.doRollover()
                if self.stream is None:
                    self.stream = self._open()
            self.stream.write(line)
            self.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


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


def configure_logging(data_dir: Path, *, level: str = "info", console_level: str | None = None) -> Path:
    """Send structlog and stdlib logging to the JSON log file and to stderr.

    :param level: the level written to the file.
    :param console_level: the level shown on the console (defaults to ``level``).
    :return: the log file's path.
    """
    path = log_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)

    file_handler = _RotatingLines(path, maxBytes=10_000_000, backupCount=5)
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
            processor=structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()), foreign_pre_chain=_SHARED
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
