"""Packaging: the three folders install as ``outreach.kernel``, ``outreach.plugins``, ``outreach.web``."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_holds_every_layer_with_its_data(tmp_path: Path) -> None:
    # The PEP 517 backend itself, as pip or uv would call it (no network, no pip needed).
    build = f"from setuptools import build_meta; build_meta.build_wheel({str(tmp_path)!r})"
    subprocess.run([sys.executable, "-c", build], cwd=ROOT, check=True, capture_output=True)
    (wheel,) = tmp_path.glob("outreach-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "outreach/kernel/__init__.py",
        "outreach/kernel/hookspecs.py",
        "outreach/kernel/store/migrations/__init__.py",
        "outreach/plugins/csv_import/__init__.py",
        "outreach/plugins/outbox/__init__.py",
        "outreach/plugins/google_maps/selectors.py",
        "outreach/web/templates/discover/index.html",
        "outreach/web/app.py",
        "outreach/web/templates/layout.html",
        "outreach/web/templates/leads/_row.html",
        "outreach/web/static/htmx/htmx.min.js",
        "outreach/web/static/style.css",
    ):
        assert expected in names, expected
    assert any(n.startswith("outreach/kernel/store/migrations/outreach_") for n in names)
    assert not any(n.startswith(("kernel/", "web/", "plugins/", "tests/")) for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "outreach = outreach.web.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_imports_work_from_any_working_directory(tmp_path: Path) -> None:
    code = (
        "import outreach.kernel, outreach.web, outreach.plugins.csv_import, pathlib;"
        "import outreach.web.rendering as r; assert (r.TEMPLATES / 'layout.html').exists();"
        "print(outreach.kernel.hookimpl.project_name)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "outreach"
