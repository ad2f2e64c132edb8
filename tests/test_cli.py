"""The command line, run as a user runs it: a real process, JSON a script can read, sentences on error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CSV = "name,category,address,phone,website,email\nAcme Dental,Dentist,1 Main St,512-555-0100,https://acme.example,info@acme.example\n,x,,,,\n"


def outreach(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "outreach.web.cli", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}: {result.stderr}")
    return result


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text(CSV)
    result = outreach(data, "leads", "import", str(csv_file))
    assert "1 new" in result.stdout
    assert "line 3: has no business name" in result.stderr
    return data


def test_list_json_uses_the_seed_schema_names(imported: Path) -> None:
    (lead,) = json.loads(outreach(imported, "leads", "list", "--json").stdout)
    for key in (
        "id",
        "business_name",
        "category",
        "location",
        "maps_url",
        "website_url",
        "email",
        "phone",
        "lifecycle_state",
        "review_status",
    ):
        assert key in lead
    assert lead["business_name"] == "Acme Dental"
    assert lead["lifecycle_state"] == "discovered"
    assert lead["review_status"] == "none"
    assert json.loads(outreach(imported, "leads", "list", "--state", "approved", "--json").stdout) == []


def test_show_json_is_the_whole_lead(imported: Path) -> None:
    shown = json.loads(outreach(imported, "leads", "show", "1", "--json").stdout)
    assert shown["email"] == "info@acme.example"
    assert shown["discovery_source"] == "csv"
    assert shown["emails"] == []
    assert shown["audit_trail"][0]["action"] == "discovered"
    assert "enrichment" in shown


def test_set_state_applies_legal_and_refuses_illegal_moves(imported: Path) -> None:
    refused = outreach(imported, "leads", "set-state", "1", "approved", check=False)
    assert refused.returncode == 1
    assert "'discovered'" in refused.stderr
    assert "'approved'" in refused.stderr
    assert "Traceback" not in refused.stderr
    outreach(imported, "leads", "set-state", "1", "analyzing")
    shown = json.loads(outreach(imported, "leads", "show", "1", "--json").stdout)
    assert shown["lifecycle_state"] == "analyzing"
    assert shown["audit_trail"][-1]["actor"] == "cli"


def test_errors_are_sentences_not_tracebacks(tmp_path: Path) -> None:
    missing = outreach(tmp_path / "d", "leads", "show", "42", check=False)
    assert missing.returncode == 1
    assert "There is no lead with id 42" in missing.stderr
    bad_file = outreach(tmp_path / "d", "leads", "import", str(tmp_path / "nope.csv"), check=False)
    assert bad_file.returncode == 1
    assert "There is no file" in bad_file.stderr
    config = tmp_path / "bad.toml"
    config.write_text("[web]\nprot = 1\n")
    bad_config = outreach(tmp_path / "d", "--config", str(config), "leads", "list", check=False)
    assert bad_config.returncode == 1
    assert "unknown key 'web.prot'" in bad_config.stderr
    for result in (missing, bad_file, bad_config):
        assert "Traceback" not in result.stderr


def test_db_migrate_and_jobs_list(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert "migration(s) applied" in outreach(data, "db", "migrate").stdout
    assert "already up to date" in outreach(data, "db", "migrate").stdout
    assert json.loads(outreach(data, "jobs", "list", "--json").stdout) == []
