"""Which Chromium the Maps source launches, and what to tell a person who has none.

Looked for in order: ``[plugins.google_maps] chromium``, ``OUTREACH_CHROMIUM``, the
places the system's browser installs to (Chromium on Linux; Chrome, Chromium or Edge on
macOS and Windows), then the browser ``playwright install chromium`` downloads. Nothing
here imports Playwright, so the Discover page can say before a search that none is there.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from outreach.kernel import DiscoveryError

CHROMIUM_ENV = "OUTREACH_CHROMIUM"


def system_chromiums(platform: str | None = None) -> tuple[str, ...]:
    """Where this platform's package managers and installers put a Chromium-based browser."""
    platform = platform or sys.platform
    if platform == "darwin":
        return (
            "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
            "/Applications/Chromium.app/Contents/MacOS/Chromium",
            "/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
        )
    if platform == "win32":
        roots = [os.environ.get(name) for name in ("PROGRAMFILES", "PROGRAMFILES(X86)", "LOCALAPPDATA")]
        found = []
        for root in filter(None, roots):
            found += [
                str(Path(root) / "Google" / "Chrome" / "Application" / "chrome.exe"),
                str(Path(root) / "Chromium" / "Application" / "chrome.exe"),
                str(Path(root) / "Microsoft" / "Edge" / "Application" / "msedge.exe"),
            ]
        return tuple(found)
    return (
        "/usr/bin/chromium",
        "/usr/lib/chromium/chromium",
        "/usr/bin/chromium-browser",
        "/snap/bin/chromium",
    )


def install_hint(platform: str | None = None) -> str:
    """How a person on this platform gets a browser outreach can drive."""
    platform = platform or sys.platform
    if platform == "darwin":
        how = "install Google Chrome (https://www.google.com/chrome/) or `brew install --cask chromium`"
    elif platform == "win32":
        how = "install Google Chrome (https://www.google.com/chrome/); Microsoft Edge works too"
    else:
        how = (
            "install Chromium with your package manager (Debian or Ubuntu: `sudo apt-get install chromium`; "
            "Fedora: `sudo dnf install chromium`)"
        )
    return (
        f"To search Google Maps, {how}, or run `python -m playwright install chromium` where Python is "
        f"installed; or set [plugins.google_maps] chromium or {CHROMIUM_ENV} to the path of a Chromium "
        "or Chrome binary."
    )


def find_chromium(configured: str | None) -> str | None:
    """The Chromium to launch: configured, ``OUTREACH_CHROMIUM``, the system's; None for Playwright's own."""
    for value, where in (
        (configured, "[plugins.google_maps] chromium"),
        (os.environ.get(CHROMIUM_ENV), CHROMIUM_ENV),
    ):
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise DiscoveryError(f"No Chromium at {path} (from {where}). {install_hint()}")
            return str(path)
    for candidate in system_chromiums():
        if Path(candidate).is_file():
            return candidate
    return None


def playwright_browsers_dir() -> Path:
    """Where ``playwright install`` puts browsers (``PLAYWRIGHT_BROWSERS_PATH`` or the user cache)."""
    configured = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    if configured and configured != "0":
        return Path(configured).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "ms-playwright"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "ms-playwright"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ms-playwright"


def chromium_problem(configured: str | None) -> str | None:
    """Why a Maps search could not start a browser, in a sentence with the fix; None when one is there."""
    try:
        if find_chromium(configured) is not None:
            return None
    except DiscoveryError as exc:
        return str(exc)
    downloaded = playwright_browsers_dir()
    if downloaded.is_dir() and any(downloaded.glob("chromium*")):
        return None
    return f"No Chromium was found. {install_hint()}"
