"""The single-file desktop build, run as a user runs it: started on a free port, the
dashboard answers, the same binary imports a CSV from the command line, the app shows it.

Built and run by ``tox -e desktop`` (``packaging/build_desktop.py`` first); the default
test run leaves these out (``-m "not desktop"``): building takes minutes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.desktop

ROOT = Path(__file__).resolve().parents[1]
BINARY = Path(
    os.environ.get("OUTREACH_DESKTOP_BINARY")
    or ROOT / "dist" / ("outreach.exe" if sys.platform == "win32" else "outreach")
)


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.status, answer.read().decode("utf-8", "replace")


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The binary serving a fresh data directory; its address and that directory."""
    assert BINARY.is_file(), f"no desktop build at {BINARY}: run packaging/build_desktop.py first"
    data = tmp_path / "data"
    process = subprocess.Popen(
        [str(BINARY), "--data-dir", str(data), "serve", "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = None
        assert process.stderr is not None
        deadline = time.monotonic() + 60
        for line in process.stderr:
            found = re.search(r"running at (http://\S+)", line)
            if found:
                url = found.group(1)
                break
            assert time.monotonic() < deadline, "the binary printed no address within a minute"
        assert url, "the binary exited before it printed its address"
        while True:
            try:
                if _get(url)[0] == 200:
                    break
            except OSError:
                assert time.monotonic() < deadline, f"{url} did not answer within a minute"
                time.sleep(0.1)
        yield url, data
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0, "the binary did not stop cleanly on SIGTERM"


def test_the_binary_serves_the_dashboard_and_imports_a_csv(running, tmp_path: Path) -> None:
    url, data = running
    status, page = _get(url)
    assert status == 200
    assert "<title>" in page
    assert "outreach" in page.lower()
    assert _get(url + "static/htmx/htmx.min.js")[0] == 200
    csv = tmp_path / "dentists.csv"
    csv.write_text(
        "business_name,email,city\nBright Smile Dental,hello@brightsmile.example,Austin\n", encoding="utf-8"
    )
    imported = subprocess.run(
        [str(BINARY), "--data-dir", str(data), "leads", "import", str(csv)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert imported.returncode == 0, imported.stderr
    assert "1 new" in imported.stdout
    status, leads = _get(url + "leads")
    assert status == 200
    assert "Bright Smile Dental" in leads


def test_the_binary_is_the_command_line_too() -> None:
    result = subprocess.run([str(BINARY), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "serve" in result.stdout
    assert "leads" in result.stdout
