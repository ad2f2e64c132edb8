"""Build the single-file desktop executable with PyInstaller: ``dist/outreach`` (``.exe`` on Windows).

Run by ``tox -e desktop`` in an environment where outreach is installed. The binary holds
the app, its templates and static files (htmx included), the built-in plugins (loaded by
name, so collected as hidden imports) and the migrations (read from disk by the store,
so shipped as files too). After the build it prints the file's size and how long the
binary takes from start to the first page, beside the targets.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENTRY = ROOT / "web" / "desktop.py"
#: Targets the build is held to (printed beside the measurements).
MAX_SIZE_MB = 120
MAX_START_SECONDS = 5.0


def binary_path(dist: Path) -> Path:
    """Where PyInstaller puts the executable."""
    return dist / ("outreach.exe" if sys.platform == "win32" else "outreach")


def pyinstaller_arguments(dist: Path, work: Path) -> list[str]:
    """The PyInstaller command line for the one-file build."""
    import outreach.kernel.store as store

    migrations = Path(store.__file__).resolve().parent / "migrations"
    separator = os.pathsep
    return [
        str(ENTRY),
        "--onefile",
        "--name=outreach",
        "--noconfirm",
        f"--distpath={dist}",
        f"--workpath={work}",
        f"--specpath={work}",
        # Built-in plugins and migrations are imported by name, never by an import statement.
        "--collect-submodules=outreach",
        "--collect-data=outreach",
        f"--add-data={migrations}{separator}outreach/kernel/store/migrations",
        # Plugins (ours and pip-installed ones) are found through package metadata.
        "--copy-metadata=outreach",
        # Libraries that read data files or their own metadata at run time.
        "--collect-data=litestar",
        "--collect-data=publicsuffixlist",
        "--collect-data=disposable_email_domains",
        "--collect-data=mailparser_reply",
        "--copy-metadata=litestar",
        "--copy-metadata=piccolo",
        "--collect-submodules=piccolo",
        "--collect-submodules=uvicorn",
        "--collect-submodules=aiosqlite",
        # Not used at run time: test runners, fake data and model generators Piccolo
        # offers, a GUI toolkit (Piccolo imports black on import: it stays).
        "--exclude-module=pytest",
        "--exclude-module=faker",
        "--exclude-module=pydantic",
        "--exclude-module=pydantic_core",
        "--exclude-module=tkinter",
        # The optional first-line extra (llm, openai) is not part of the desktop app.
        "--exclude-module=llm",
        "--exclude-module=openai",
    ]


def build(dist: Path, work: Path) -> Path:
    """Run PyInstaller; the path of the executable."""
    import PyInstaller.__main__

    PyInstaller.__main__.run(pyinstaller_arguments(dist, work))
    return binary_path(dist)


def time_to_first_page(binary: Path, timeout: float = 60.0) -> float:
    """Seconds from starting ``binary serve --port 0`` to its dashboard answering 200."""
    with tempfile.TemporaryDirectory() as data:
        started = time.monotonic()
        process = subprocess.Popen(
            [str(binary), "--data-dir", data, "serve", "--port", "0"],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        try:
            url = None
            assert process.stderr is not None
            for line in process.stderr:
                found = re.search(r"running at (http://\S+)", line)
                if found:
                    url = found.group(1)
                    break
            if url is None:
                raise RuntimeError("the binary exited before it printed its address")
            while time.monotonic() - started < timeout:
                try:
                    with urllib.request.urlopen(url, timeout=2) as answer:
                        if answer.status == 200:
                            return time.monotonic() - started
                except OSError:
                    time.sleep(0.05)
            raise RuntimeError(f"no answer from {url} within {timeout:.0f} s")
        finally:
            process.terminate()
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "pyinstaller")
    parser.add_argument("--skip-build", action="store_true", help="measure the binary already in --dist")
    args = parser.parse_args()
    binary = binary_path(args.dist) if args.skip_build else build(args.dist, args.work)
    size_mb = binary.stat().st_size / 1_000_000
    start = time_to_first_page(binary)
    print(f"desktop build: {binary}")
    print(f"  size            {size_mb:7.1f} MB   (target at most {MAX_SIZE_MB} MB)")
    print(f"  start to page   {start:7.2f} s    (target at most {MAX_START_SECONDS:.0f} s)")


if __name__ == "__main__":
    main()
