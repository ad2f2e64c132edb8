"""Two processes (``serve`` and ``worker``) writing one log file lose no line, split none."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from outreach.kernel.logs import log_path

LINES = 2_000
MAX_BYTES = 20_000

#: One writer: waits for the start signal, so both write (and roll over) at once.
WRITER = """
import sys, time
from pathlib import Path
import structlog
from outreach.kernel.logs import configure_logging

data, who, count, max_bytes = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
configure_logging(data, level="info", console_level="critical", max_bytes=max_bytes, backups=100)
log = structlog.get_logger("outreach.test")
(data / f"ready-{who}").touch()
while not (data / "go").exists():
    time.sleep(0.001)
for number in range(count):
    log.info("line_written", writer=who, number=number, padding="x" * (number % 90))
"""


def _files(path: Path) -> list[Path]:
    """The log file and its rolled-over siblings, oldest first."""
    rolled = sorted(path.parent.glob(path.name + ".*"), key=lambda p: int(p.suffix[1:]), reverse=True)
    return [*rolled, path]


def test_two_processes_rolling_one_file_over_keep_every_line_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(data), who, str(LINES), str(MAX_BYTES)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("serve", "worker")
    ]
    try:
        deadline = time.monotonic() + 60
        while not all((data / f"ready-{who}").exists() for who in ("serve", "worker")):
            assert all(w.poll() is None for w in writers), [w.stderr.read() for w in writers]
            assert time.monotonic() < deadline, "the writers did not start"
            time.sleep(0.01)
        (data / "go").touch()
        for writer in writers:
            assert writer.wait(timeout=120) == 0, writer.stderr.read()
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()

    files = _files(log_path(data))
    assert len(files) >= 10, "the file should have rolled over many times"
    seen: list[tuple[str, int]] = []
    mixed = 0
    for path in files:
        text = path.read_text()
        assert text.endswith("\n"), path
        assert path.stat().st_size <= MAX_BYTES, path
        writers_here = set()
        for line in text.splitlines():
            event = json.loads(line)  # a half line, or two run together, fails here
            seen.append((event["writer"], event["number"]))
            writers_here.add(event["writer"])
        mixed += len(writers_here) == 2
    assert mixed, "both writers should have written into the same files"
    assert len(seen) == len(set(seen)), "a line was written twice"
    assert sorted(seen) == sorted((who, n) for who in ("serve", "worker") for n in range(LINES))
    for who in ("serve", "worker"):  # each writer's lines stay in order across the files
        numbers = [n for w, n in seen if w == who]
        assert numbers == sorted(numbers)
