"""The JSON log file: one line per event, tracebacks included, rolled over by size."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import structlog

from outreach.kernel.logs import configure_logging


@pytest.fixture
def log_file(tmp_path: Path):
    path = configure_logging(tmp_path, level="info", console_level="critical")
    yield path
    for handler in list(logging.getLogger().handlers):
        if getattr(handler, "_outreach", False):
            logging.getLogger().removeHandler(handler)
            handler.close()


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_events_are_json_lines_and_exceptions_keep_their_traceback(log_file: Path) -> None:
    log = structlog.get_logger("outreach.test")
    log.info("email_sent", email_id=7, lead_id=3)
    log.debug("too_quiet_for_the_file")
    try:
        {}["missing"]
    except KeyError:
        log.exception("round_failed", thing=object())
    logging.getLogger("some.library").warning("a %s message", "stdlib")
    sent, failed, library = lines(log_file)
    assert sent["event"] == "email_sent"
    assert (sent["email_id"], sent["level"], sent["logger"]) == (7, "info", "outreach.test")
    assert sent["timestamp"].endswith("Z")
    assert failed["level"] == "error"
    assert "Traceback" in failed["exception"]
    assert "KeyError: 'missing'" in failed["exception"]
    assert failed["thing"].startswith("<object object")
    assert library["event"] == "a stdlib message"
    assert library["level"] == "warning"


def test_the_file_rolls_over_when_it_would_grow_too_big(log_file: Path) -> None:
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_outreach", False))
    handler.maxBytes = 2_000  # type: ignore[attr-defined]
    log = structlog.get_logger("outreach.test")
    for number in range(60):
        log.info("email_sent", email_id=number)
    rolled = log_file.with_name(log_file.name + ".1")
    assert rolled.exists()
    assert log_file.stat().st_size < 2_000
    assert rolled.stat().st_size < 2_000
    numbers = [line["email_id"] for path in (rolled, log_file) for line in lines(path)]
    assert numbers == list(range(60))[-len(numbers) :]  # nothing out of order, the newest last
    assert numbers[-1] == 59
