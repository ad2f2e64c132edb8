"""``outreach serve`` in a real process: a free port with ``--port 0``, the dashboard
answers, and Ctrl+C, SIGTERM or a closed terminal (SIGHUP) shut it down cleanly, exit 0."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_serve_on_a_free_port_stops_cleanly_on_a_signal(tmp_path: Path, stop: signal.Signals) -> None:
    data = tmp_path / "data"
    process = subprocess.Popen(
        [sys.executable, "-m", "outreach.web.cli", "--data-dir", str(data), "serve", "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stderr is not None
        url = None
        for line in process.stderr:
            found = re.search(r"running at (http://\S+)", line)
            if found:
                url = found.group(1)
                break
        assert url
        assert not url.endswith(":0/")
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        process.send_signal(stop)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    log = (data / "logs" / "outreach.log").read_text(encoding="utf-8")
    assert '"event":"server_stopped"' in log.replace(" ", "")
