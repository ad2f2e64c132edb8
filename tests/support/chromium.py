"""Where the tests find Chromium, and the flags every test browser is launched with."""

from __future__ import annotations

import os
from pathlib import Path

#: Without the background-networking flags Chromium keeps trying to reach Google.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    """``OUTREACH_CHROMIUM``, else Debian's Chromium (the binary itself skips a shell wrapper)."""
    for candidate in (os.environ.get("OUTREACH_CHROMIUM"), "/usr/lib/chromium/chromium", "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError("Chromium is not installed; `apt-get install chromium` provides it.")
