"""The engine's commands through click: leads ready, sequences, enroll, send (dry run and until idle),
outbox and mailboxes, with the JSON field names a script relies on and sentences on error."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from engine_helpers import CONFIG, SEQUENCE

from outreach.kernel import DiscoveredBusiness
from outreach.kernel.config import load_settings
from outreach.kernel.runtime import Runtime
from outreach.kernel.store.tables import LeadRow
from outreach.web.cli import cli


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "outreach.toml"
    path.write_text(CONFIG.format(data=tmp_path / "data"))

    async def prepare() -> None:
        rt = await Runtime.open(load_settings(path), load_entry_points=False)
        try:
            for name, email in (("With Mail", "owner@with.example"), ("No Mail", None)):
                await rt.leads.upsert_discovered(DiscoveredBusiness(business_name=name, email=email), "test")
            await LeadRow.update({LeadRow.lifecycle_state: "approved"}).where(LeadRow.id > 0)
        finally:
            await rt.close()

    asyncio.run(prepare())
    (tmp_path / "intro.toml").write_text(SEQUENCE)
    return path


def run(config: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def test_from_approved_to_sent_on_the_command_line(config: Path) -> None:
    ready = json.loads(run(config, "leads", "ready", "--all-approved", "--json"))
    assert ready["changed"] == [1]
    assert "no email address" in ready["skipped"]["2"]
    loaded = run(config, "sequences", "load", str(config.parent / "intro.toml"))
    assert loaded.strip() == "Loaded sequence 'intro' (id 1) with 2 step(s)."
    (sequence,) = json.loads(run(config, "sequences", "list", "--json"))
    assert sequence["name"] == "intro"
    assert [s["position"] for s in sequence["steps"]] == [1, 2]
    preview = run(config, "sequences", "preview", "intro", "1", "--step", "2")
    assert preview.startswith("Subject: Re: A question for With Mail")
    enrolled = json.loads(run(config, "enroll", "intro", "--all-ready", "--json"))
    assert enrolled == {"enrolled": {"1": 1}, "skipped": {}}
    dry = json.loads(run(config, "send", "--dry-run", "--json"))
    assert [(i["email_id"], i["action"], i["sender"]) for i in dry["items"]] == [(1, "send", "outbox")]
    assert json.loads(run(config, "outbox", "list", "--state", "queued", "--json"))[0]["state"] == "queued"
    stats = json.loads(run(config, "send", "--until-idle", "--json"))
    assert stats["sent"] == 1
    (email,) = json.loads(run(config, "outbox", "list", "--json"))
    for key in ("id", "lead_id", "state", "subject", "message_id", "mailbox", "sender_backend", "sent_at"):
        assert key in email
    assert email["state"] == "sent"
    assert email["sender_backend"] == "outbox"
    assert "Sent 0," in run(config, "send")
    (box,) = json.loads(run(config, "mailboxes", "list", "--json"))
    assert box["name"] == "main"
    assert box["sent_today"] == 1


def test_mistakes_are_sentences_not_tracebacks(config: Path) -> None:
    missing = run(config, "enroll", "nosuch", "--all-ready", code=1)
    assert "There is no sequence named 'nosuch'" in missing
    assert "Traceback" not in missing
    assert "Give lead ids or --all-ready" in run(config, "enroll", "intro", code=1)
    bad = config.parent / "bad.toml"
    bad.write_text('name = "x"\n[[steps]]\nsubject = "Hi {{ nmae }}"\nbody = "b"\ncolour = "red"\n')
    unknown = run(config, "sequences", "load", str(bad), code=1)
    assert "unknown key 'steps.0.colour'" in unknown
    bad.write_text('name = "x"\n[[steps]]\nsubject = "Hi {{ nmae }}"\nbody = "b"\n')
    assert "'nmae', which is not a variable" in run(config, "sequences", "load", str(bad), code=1)
    assert "There is no email with id 1" in run(config, "outbox", "mark-sent", "1", code=1)
