"""Emails held back for missing legal settings go out as soon as the settings are complete, through a
real SMTP server on loopback, and the reason each email shows is the current one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from engine_helpers import LEGAL, Clock, enrolled, mailbox
from mail_servers import Sink, SinkHandler

from outreach.kernel import LEGAL_HOLD
from outreach.kernel.config import parse_settings
from outreach.kernel.reconfigure import apply_settings, check_settings
from outreach.kernel.services import audit
from outreach.kernel.store.tables import EmailRow

ONE_STEP = """
name = "intro"
[[steps]]
subject = "Hello {{ business_name }}"
body = "Hi there, {{ first_line }}"
"""


@pytest.fixture
async def sink():
    handler = SinkHandler()
    server = await Sink(handler).start()
    yield handler, server.port
    await server.stop()


def _raw(data_dir, port: int, **extra) -> dict:
    return {
        "data_dir": str(data_dir),
        "sender": {"backend": "smtp", "smtp": {"host": "127.0.0.1", "port": port, "starttls": False}},
        "mailboxes": [mailbox()],
        "sending": {"rate_limit_per_minute": 0},
        **extra,
    }


async def _held(rt) -> list[dict]:
    return await EmailRow.select(EmailRow.id, EmailRow.due_at, EmailRow.last_error, EmailRow.state)


async def test_saving_complete_settings_releases_held_emails_at_once(sink, data_dir, make_runtime) -> None:
    handler, port = sink
    rt = await make_runtime(parse_settings(_raw(data_dir, port), source="test"), load_entry_points=False)
    clock = Clock()
    rt.clock = clock
    await enrolled(rt, 2, ONE_STEP)
    await rt.outbox.run_until_idle()
    rows = await _held(rt)
    assert all(r["state"] == "queued" and r["last_error"].startswith(LEGAL_HOLD) for r in rows)
    assert all(r["due_at"] >= clock.now + timedelta(minutes=59) for r in rows)
    assert handler.received == []

    complete = parse_settings(_raw(data_dir, port, **LEGAL), source="test")
    released = await apply_settings(rt, complete, check_settings(rt, complete), actor="web")
    assert sorted(released) == sorted(r["id"] for r in rows)
    after = await _held(rt)
    assert all(r["due_at"] == clock.now and r["last_error"] is None for r in after)
    trail = await audit.trail("email", rows[0]["id"])
    assert any(entry.action == "hold_released" and entry.actor == "web" for entry in trail)

    stats = await rt.outbox.run_until_idle()  # no clock moved: not an hour later
    assert stats.sent == 2
    assert len(handler.received) == 2
    assert handler.received[0].message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_a_worker_started_after_the_file_changed_releases_them(sink, data_dir, make_runtime) -> None:
    handler, port = sink
    first = await make_runtime(parse_settings(_raw(data_dir, port), source="test"), load_entry_points=False)
    await enrolled(first, 1, ONE_STEP)
    await first.outbox.run_until_idle()
    assert (await _held(first))[0]["last_error"].startswith(LEGAL_HOLD)
    await first.close()

    # The file was completed and the worker restarted: a new runtime on the same data.
    second = await make_runtime(
        parse_settings(_raw(data_dir, port, **LEGAL), source="test"), load_entry_points=False
    )
    stats = await second.outbox.run_until_idle()
    assert stats.sent == 1
    assert len(handler.received) == 1


async def test_the_reason_shown_is_the_current_one(sink, data_dir, make_runtime) -> None:
    handler, port = sink
    rt = await make_runtime(parse_settings(_raw(data_dir, port), source="test"), load_entry_points=False)
    await enrolled(rt, 1, ONE_STEP)
    await rt.outbox.run_until_idle()
    reason = (await _held(rt))[0]["last_error"]
    assert "sender_name is not set" in reason
    assert "physical_address is not set" in reason

    # Half fixed: the postal address is still missing, and only that is said now.
    partial = parse_settings(
        _raw(data_dir, port, compliance={"sender_name": "Ann Example"}, web=LEGAL["web"]), source="test"
    )
    await apply_settings(rt, partial, check_settings(rt, partial), actor="web")
    await rt.outbox.run_until_idle()
    reason = (await _held(rt))[0]["last_error"]
    assert reason.startswith(LEGAL_HOLD)
    assert "physical_address is not set" in reason
    assert "sender_name" not in reason
    assert handler.received == []
