"""Benchmark: how long the ``outreach`` command line takes to start.

Run with ``python bench/startup.py [--runs 7]``. It measures, as fresh subprocesses and
each the best of ``--runs`` runs, beside a baseline taken in the same run:

- ``outreach --help`` vs ``python -c "import click"`` (the least any click CLI costs);
- ``outreach jobs list`` on a migrated, empty data directory (a command that opens the
  runtime and reads the database) vs the same baseline.

Bytecode is cached in a temporary folder first (``PYTHONPYCACHEPREFIX``), as an
installed package has it, even where ``PYTHONDONTWRITEBYTECODE`` is set.

Targets: ``--help`` <= 0.3 s, ``jobs list`` <= 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def best_of(command: list[str], runs: int, env: dict[str, str]) -> float:
    """The fastest of ``runs`` runs of ``command``, in seconds (after one run to warm caches)."""
    subprocess.run(command, env=env, check=True, capture_output=True)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return min(samples)


def bench_env(cache: Path) -> dict[str, str]:
    """The environment of the measured processes: bytecode cached, no user config."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "OUTREACH_CONFIG")}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    env.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    return env


def report(label: str, seconds: float, baseline: float, target: float) -> None:
    verdict = "ok" if seconds <= target else "OVER TARGET"
    print(
        f"{label:<28} {seconds * 1000:7.0f} ms   | import click {baseline * 1000:5.0f} ms"
        f"   | ratio {seconds / baseline:5.1f}x   | target <= {target * 1000:.0f} ms: {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="outreach-bench-startup-"))
    try:
        env = bench_env(root / "pycache")
        cli = [sys.executable, "-m", "outreach.web.cli", "--data-dir", str(root / "data")]
        subprocess.run([*cli, "db", "migrate"], env=env, check=True, capture_output=True)

        baseline = best_of([sys.executable, "-c", "import click"], args.runs, env)
        help_seconds = best_of([*cli, "--help"], args.runs, env)
        list_seconds = best_of([*cli, "jobs", "list"], args.runs, env)
        print(f"best of {args.runs} runs each, Python {sys.version.split()[0]}")
        report("outreach --help", help_seconds, baseline, 0.3)
        report("outreach jobs list", list_seconds, baseline, 0.5)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
