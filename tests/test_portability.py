"""Nothing POSIX-only on import or at run time: the same package runs on Windows and macOS.

A scan of our own modules for the modules and calls that exist only on POSIX, and the
paths that stand in for them (the migration lock, stopping on Ctrl+C) run with the
POSIX facilities taken away.
"""

from __future__ import annotations

import ast
import asyncio
import signal
from pathlib import Path

import pytest

from outreach.kernel.store import engine
from outreach.web.cli.common import stop_on_signals

PACKAGE = Path(__file__).resolve().parents[1]
#: Standard modules that do not exist on Windows.
POSIX_MODULES = {"fcntl", "pwd", "grp", "termios", "tty", "pty", "resource", "posix", "syslog", "crypt"}
#: ``os`` functions that do not exist on Windows.
POSIX_CALLS = {
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "setsid",
    "killpg",
    "getpgid",
    "fork",
    "setuid",
    "chown",
}


def _our_modules() -> list[Path]:
    return [
        path
        for folder in ("kernel", "plugins", "web")
        for path in (PACKAGE / folder).rglob("*.py")
        if "build" not in path.parts
    ]


def test_no_module_of_ours_imports_or_calls_what_only_posix_has() -> None:
    found = []
    for path in _our_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                names = {(node.module or "").split(".")[0]}
            elif (
                isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os"
            ):
                names = {f"os.{node.attr}"} if node.attr in POSIX_CALLS else set()
            else:
                continue
            for name in names & (POSIX_MODULES | {f"os.{c}" for c in POSIX_CALLS}):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {name}")
    assert found == []


def test_the_migration_lock_excludes_a_second_holder(tmp_path: Path) -> None:
    lock_path = tmp_path / "store.db.lock"
    with engine._file_lock(lock_path):
        other = engine._file_lock(lock_path)
        with pytest.raises(TimeoutError):
            other.acquire(timeout=0.1)
    with engine._file_lock(lock_path):
        pass


async def test_ctrl_c_stops_where_the_loop_takes_no_signal_handlers(monkeypatch) -> None:
    loop = asyncio.get_running_loop()

    def refuse(*_args: object) -> None:
        raise NotImplementedError  # what Windows' ProactorEventLoop does

    monkeypatch.setattr(loop, "add_signal_handler", refuse)
    previous = signal.getsignal(signal.SIGINT)
    try:
        stop = asyncio.Event()
        stop_on_signals(stop)
        signal.raise_signal(signal.SIGINT)
        await asyncio.wait_for(stop.wait(), timeout=5)
    finally:
        signal.signal(signal.SIGINT, previous)
        if hasattr(signal, "SIGTERM"):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


async def test_ctrl_c_and_sigterm_stop_through_the_loop_where_it_takes_handlers() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    stop_on_signals(stop)
    try:
        signal.raise_signal(signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), timeout=5)
    finally:
        for name in ("SIGINT", "SIGTERM"):
            loop.remove_signal_handler(getattr(signal, name))
