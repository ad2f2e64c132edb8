"""The outbox's traps for a person, closed: retry on a waiting email says what it waits for, send-now skips
only the waits that are a person's to skip (once), stranded emails of a mailbox gone are visible and
movable, cancelling says the sequence stops, and the dry run and --until-idle name every hold."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner
from engine_helpers import CONFIG, SEQUENCE, Clock, enrolled, mailbox

from outreach.kernel import OutgoingMessage, SendReceipt, TransientSendError, hookimpl
from outreach.kernel.config import load_settings
from outreach.kernel.errors import InvalidInput
from outreach.kernel.logs import log_path
from outreach.kernel.runtime import Runtime
from outreach.kernel.services import audit
from outreach.kernel.services.outbox import actions
from outreach.kernel.services.outbox.dry_run import explain, hold_of, waiting_summary
from outreach.kernel.services.outbox.messages import message_domain
from outreach.kernel.services.outbox.planner import live_send_now
from outreach.kernel.store.filters import in_values
from outreach.kernel.store.tables import AuditRow, EmailRow, EnrollmentRow, MailboxRow
from outreach.web.cli import cli

#: A Sunday evening in Chicago (03:00 UTC on Monday): outside a 09:00-17:00 window there.
SUNDAY_NIGHT = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
#: When that window next opens: Monday 09:00 in Chicago.
MONDAY_OPENING = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
CHICAGO = {"window": "09:00-17:00", "weekdays_only": True, "timezone": "America/Chicago"}


class Flaky:
    """A sender that delivers (so the law's checks apply) and fails its first ``failures`` sends."""

    name = "flaky"

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.sent: list[OutgoingMessage] = []

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        if self.failures > 0:
            self.failures -= 1
            raise TransientSendError("try later", reply="421 busy")
        self.sent.append(message)
        return SendReceipt(message_id=message.message_id, detail="kept")


class FlakyPlugin:
    def __init__(self, sender: Flaky) -> None:
        self.sender = sender

    @hookimpl
    def register_senders(self, register) -> None:
        register(self.sender)


async def _runtime(make_settings, make_runtime, *, boxes=None, sender: Flaky | None = None, **sending):
    settings = make_settings(
        sender={"backend": "flaky" if sender else "outbox"},
        mailboxes=boxes or [mailbox(**CHICAGO)],
        sending={"rate_limit_per_minute": 0, **sending},
        compliance={"sender_name": "Ann Example", "physical_address": "1 Main St, Springfield, IL 62701"},
        web={"public_url": "https://outreach.example"},
    )
    extra = [("flaky", FlakyPlugin(sender))] if sender else []
    return await make_runtime(settings, extra_plugins=extra)


async def _in_chicago(rt, count: int, sequence: str = SEQUENCE) -> list[int]:
    """``count`` leads enrolled, their first emails addressed to Chicago; the email ids."""
    firsts = await enrolled(rt, count, sequence)
    ids = sorted(firsts.values())
    await EmailRow.update({EmailRow.recipient_timezone: "America/Chicago"}).where(EmailRow.id.is_in(ids))
    return ids


# -- 1. retry on a queued email says what it waits for -------------------------------------------


async def test_retry_on_a_deferred_email_says_what_it_waits_for(make_settings, make_runtime) -> None:
    rt = await _runtime(make_settings, make_runtime)
    rt.clock = Clock(SUNDAY_NIGHT)
    (email_id,) = await _in_chicago(rt, 1)
    assert (await rt.outbox.run_until_idle()).deferred == 1
    with pytest.raises(actions.WrongEmailState) as refused:
        await actions.retry(rt, email_id, actor="cli")
    assert str(refused.value) == (
        f"Email {email_id} is queued, not failed: it waits until 2026-11-23 15:00 UTC because outside the "
        "sending window (09:00-17:00 in America/Chicago). Use Send now "
        f"(`outreach outbox send-now {email_id}`) to skip a wait that is yours to skip."
    )
    assert refused.value.status_code == 409
    assert (await rt.emails.get(email_id)).state == "queued"  # nothing changed


# -- 2. send now --------------------------------------------------------------------------------


async def test_send_now_skips_the_window_once_and_is_audited(make_settings, make_runtime) -> None:
    sender = Flaky(failures=1)
    rt = await _runtime(make_settings, make_runtime, sender=sender, retry_base_seconds=60)
    clock = Clock(SUNDAY_NIGHT)
    rt.clock = clock
    marked, other = await _in_chicago(rt, 2)
    await rt.outbox.run_until_idle()
    done = await actions.send_now(rt, marked, actor="cli")
    assert done.message.startswith(
        f"Email {marked} is due now, no longer waiting because outside the sending"
    )
    assert "Caps, the rate limit and the compliance checks still apply" in done.message
    trail = await audit.trail("email", marked)
    assert (trail[-1].action, trail[-1].actor) == ("send_now", "cli")
    assert trail[-1].old_value["hold"] == "window"
    # It goes past the closed window; the other email still waits for it.
    await rt.outbox.run_until_idle()
    first_try = await rt.emails.get(marked)
    assert first_try.state == "queued"  # the server said 421: it backs off
    assert first_try.attempts == 1
    assert (await rt.emails.get(other)).due_at == MONDAY_OPENING
    # The mark was used up by that try: when the retry is due, the window holds it again.
    clock.now = first_try.due_at
    await rt.outbox.run_until_idle()
    again = await rt.emails.get(marked)
    assert again.state == "queued"
    assert again.due_at == MONDAY_OPENING
    assert sender.sent == []
    # A second "send now" is a new mark, and this time the server takes it.
    await actions.send_now(rt, marked, actor="web")
    assert (await rt.outbox.run_until_idle()).sent == 1
    assert [m.email_id for m in sender.sent] == [marked]


async def test_send_now_never_lifts_a_cap(make_settings, make_runtime) -> None:
    rt = await _runtime(make_settings, make_runtime, boxes=[mailbox(daily_cap=1)])
    rt.clock = Clock()
    _, second = await _in_chicago(rt, 2)
    assert (await rt.outbox.run_until_idle()).sent == 1
    done = await actions.send_now(rt, second, actor="cli")
    assert "still waits because mailbox 'main' reached today's cap (1 of 1)" in done.message
    assert "send-now does not skip" in done.message
    assert (await rt.outbox.run_until_idle()).sent == 0
    assert (await rt.emails.get(second)).state == "queued"


async def test_send_now_skips_the_mailbox_gap_for_that_email_only(make_settings, make_runtime) -> None:
    rt = await _runtime(make_settings, make_runtime, boxes=[mailbox(min_gap_seconds=600)])
    rt.clock = Clock()
    ids = await _in_chicago(rt, 3)
    assert (await rt.outbox.run_until_idle()).sent == 1
    waiting = [i for i in ids if (await rt.emails.get(i)).state == "queued"]
    hold = await hold_of(rt, await rt.emails.get(waiting[1]))
    assert (hold.kind, hold.skippable) == ("gap", True)
    await actions.send_now(rt, waiting[1], actor="cli")
    assert (await rt.outbox.run_until_idle()).sent == 1
    assert (await rt.emails.get(waiting[1])).state == "sent"
    assert (await rt.emails.get(waiting[0])).state == "queued"  # the gap still holds the others
    pacing = await MailboxRow.select(MailboxRow.next_send_at).where(MailboxRow.name == "main").first()
    assert pacing["next_send_at"] >= rt.clock() + timedelta(seconds=600)  # and restarts after it


async def test_send_now_brings_a_legal_hold_back(make_settings, make_runtime) -> None:
    sender = Flaky()
    rt = await make_runtime(
        make_settings(
            sender={"backend": "flaky"}, mailboxes=[mailbox()], sending={"rate_limit_per_minute": 0}
        ),
        extra_plugins=[("flaky", FlakyPlugin(sender))],
    )
    rt.clock = Clock()
    (email_id,) = await _in_chicago(rt, 1)
    await rt.outbox.run_until_idle()
    held = await rt.emails.get(email_id)
    assert held.last_error.startswith("held back until the settings are complete")
    done = await actions.send_now(rt, email_id, actor="cli")
    assert "The compliance checks judge it again before it goes" in done.message
    await rt.outbox.run_until_idle()
    again = await rt.emails.get(email_id)
    assert again.state == "queued"
    assert again.last_error.startswith("held back until the settings are complete")
    assert again.due_at > rt.clock()
    assert sender.sent == []


async def test_send_now_refuses_what_it_cannot_help(make_settings, make_runtime) -> None:
    rt = await _runtime(make_settings, make_runtime, boxes=[mailbox()])
    rt.clock = Clock()
    email_id, failed = await _in_chicago(rt, 2)
    await EmailRow.update({EmailRow.mailbox: "gone"}).where(EmailRow.id == email_id)
    await EmailRow.update({EmailRow.state: "failed", EmailRow.last_error: "550 no such user"}).where(
        EmailRow.id == failed
    )
    with pytest.raises(actions.WrongEmailState, match="mailbox 'gone' is not in the config any more"):
        await actions.send_now(rt, email_id, actor="cli")
    with pytest.raises(actions.WrongEmailState, match=rf"retry {failed}`"):
        await actions.send_now(rt, failed, actor="cli")


async def test_the_send_now_mark_is_looked_up_by_email_id_through_its_index(runtime) -> None:
    steps = []
    query = AuditRow.select(AuditRow.entity_id).where(
        in_values(AuditRow.entity_id, [1, 2, 3]) & (AuditRow.action == "send_now")
    )
    for row in await AuditRow.raw(f"EXPLAIN QUERY PLAN {query}"):
        steps.append(row["detail"])
    assert any("entity_id" in step for step in steps), steps
    assert await live_send_now({}, datetime.now(UTC)) == set()


# -- 3. stranded emails and moving them ---------------------------------------------------------


async def _strand(rt, email_ids: list[int], name: str = "old") -> None:
    """Make these emails (and their enrollments) belong to a mailbox the config no longer has."""
    address = f"Ann Example <ann@{name}.example>"
    for email_id in email_ids:
        await EmailRow.update(
            {
                EmailRow.mailbox: name,
                EmailRow.from_address: address,
                EmailRow.message_id: f"<{email_id}.x@{name}.example>",
            }
        ).where(EmailRow.id == email_id)
    leads = [r["lead"] for r in await EmailRow.select(EmailRow.lead).where(EmailRow.id.is_in(email_ids))]
    await EnrollmentRow.update({EnrollmentRow.mailbox: name}).where(EnrollmentRow.lead.is_in(leads))


async def test_stranded_emails_are_found_and_moved_with_their_thread(make_settings, make_runtime) -> None:
    rt = await _runtime(
        make_settings,
        make_runtime,
        boxes=[mailbox(), mailbox("other", from_address="Bob <bob@main.example>")],
    )
    clock = Clock()
    rt.clock = clock
    ids = await _in_chicago(rt, 3)
    await _strand(rt, ids)
    assert await rt.mailboxes.stranded() == {"old": 3}
    hold = await hold_of(rt, await rt.emails.get(ids[0]))
    assert (hold.kind, hold.reason) == ("stranded", "mailbox 'old' is not in the config any more")
    with pytest.raises(actions.WrongEmailState, match="outreach outbox move --from old --to MAILBOX"):
        await actions.retry(rt, ids[0], actor="cli")
    assert (await rt.outbox.run_until_idle()).sent == 0

    moved = await actions.move(rt, "old", "main", [ids[0], 999], actor="cli")
    assert moved.moved == [ids[0]]
    assert moved.skipped == {999: "does not exist"}
    assert moved.new_message_ids == [ids[0]]
    assert moved.enrollments == 1
    assert "Moved 1 email from 'old' to 'main'" in moved.sentence()
    email = await rt.emails.get(ids[0])
    assert (email.mailbox, email.from_address) == ("main", "Ann Example <ann@main.example>")
    assert message_domain(email.from_address) in email.message_id
    trail = await audit.trail("email", ids[0])
    assert (trail[-1].action, trail[-1].actor) == ("moved", "cli")
    assert trail[-1].old_value == {"mailbox": "old", "message_id": f"<{ids[0]}.x@old.example>"}

    # Moving to a mailbox of the same domain keeps the Message-ID; "all" takes what is left.
    await EmailRow.update({EmailRow.message_id: f"<{ids[1]}.x@main.example>"}).where(EmailRow.id == ids[1])
    rest = await actions.move(rt, "old", "other", actor="web")
    assert sorted(rest.moved) == ids[1:]
    assert rest.new_message_ids == [ids[2]]
    assert (await rt.emails.get(ids[1])).message_id == f"<{ids[1]}.x@main.example>"
    assert await rt.mailboxes.stranded() == {}

    # The follow-up of a moved email comes from the new mailbox, in the same thread.
    assert (await rt.outbox.run_until_idle()).sent == 3
    clock.advance(days=5)
    await rt.outbox.run_until_idle()
    followups = [e for e in await rt.emails.for_lead(email.lead_id) if e.step_number == 2]
    assert [(f.mailbox, f.from_address, f.in_reply_to) for f in followups] == [
        ("main", "Ann Example <ann@main.example>", email.message_id)
    ]
    # Moved to a mailbox of another address: its follow-up comes from that address too.
    other = await rt.emails.get(ids[2])
    later = [e for e in await rt.emails.for_lead(other.lead_id) if e.step_number == 2]
    assert [(f.mailbox, f.from_address) for f in later] == [("other", "Bob <bob@main.example>")]


async def test_move_refuses_a_mailbox_that_is_not_configured(make_settings, make_runtime) -> None:
    rt = await _runtime(make_settings, make_runtime, boxes=[mailbox()])
    with pytest.raises(InvalidInput, match=r"There is no mailbox named 'nowhere' in the config; .*main"):
        await actions.move(rt, "old", "nowhere", actor="cli")
    with pytest.raises(InvalidInput, match="in 'main' already"):
        await actions.move(rt, "main", "main", actor="cli")
    nothing = await actions.move(rt, "old", "main", actor="cli")
    assert nothing.sentence() == "No email was moved from 'old': none of its emails is queued."


# -- 4. cancelling says the sequence stops --------------------------------------------------------


async def test_cancelling_one_email_says_the_sequence_stops(make_settings, make_runtime) -> None:
    rt = await _runtime(make_settings, make_runtime, boxes=[mailbox()])
    (email_id,) = await _in_chicago(rt, 1)
    done = await actions.cancel_one(rt, email_id, actor="cli")
    assert done.message == (
        f"Email {email_id} is cancelled. The lead's sequence (intro) stops too: no later step is queued "
        "for this lead."
    )
    (enrollment,) = await rt.enrollment.for_lead(done.email.lead_id)
    assert enrollment.state == "stopped"


# -- 5. the dry run and the summary name every hold ------------------------------------------------


async def test_dry_run_and_summary_name_the_holds_of_emails_not_due(make_settings, make_runtime) -> None:
    sender = Flaky()
    rt = await make_runtime(
        make_settings(
            sender={"backend": "flaky"},
            mailboxes=[mailbox(**CHICAGO), mailbox("open")],
            sending={"rate_limit_per_minute": 0},
        ),
        extra_plugins=[("flaky", FlakyPlugin(sender))],
    )
    rt.clock = Clock(SUNDAY_NIGHT)
    ids = await _in_chicago(rt, 4)
    await EmailRow.update({EmailRow.mailbox: "main"}).where(EmailRow.id.is_in(ids[:2]))
    await EmailRow.update({EmailRow.mailbox: "open"}).where(EmailRow.id == ids[2])
    await EmailRow.update({EmailRow.mailbox: "gone"}).where(EmailRow.id == ids[3])
    await rt.outbox.run_until_idle()  # two deferred to the window, one to the law's settings
    report = await explain(rt)
    by_id = {item.email_id: item for item in report.items}
    assert by_id[ids[0]].hold == "window"
    assert by_id[ids[0]].reason.startswith("outside the sending window (09:00-17:00 in America/Chicago)")
    assert by_id[ids[0]].until == MONDAY_OPENING
    assert by_id[ids[2]].hold == "legal"
    assert by_id[ids[2]].reason.startswith("held back until the settings are complete")
    assert (by_id[ids[3]].hold, by_id[ids[3]].reason) == (
        "stranded",
        "mailbox 'gone' is not in the config any more",
    )
    summary = await waiting_summary(rt)
    assert summary.holds == {"window": 2, "legal": 1, "stranded": 1}
    assert summary.sentence().startswith(
        "4 queued emails wait: 2 outside the sending window (the first until 2026-11-23 15:00 UTC), "
        "1 held back until the settings are complete"
    )


async def test_dry_run_names_the_rate_limit_and_the_cap(make_settings, make_runtime) -> None:
    limited = await _runtime(make_settings, make_runtime, boxes=[mailbox()], rate_limit_per_minute=1)
    limited.clock = Clock()
    ids = await _in_chicago(limited, 2)
    assert (await limited.outbox.run_until_idle()).sent == 1
    (waiting,) = [i for i in (await explain(limited)).items if i.email_id in ids]
    assert (waiting.action, waiting.hold) == ("wait", "rate_limit")
    assert waiting.reason == "the global rate limit is reached"
    assert (await waiting_summary(limited)).sentence() == (
        "1 queued email waits: 1 held by the global rate limit"
    )


# -- the command line ---------------------------------------------------------------------------


DELAYED = """
name = "intro"
[[steps]]
subject = "Hello {{ business_name }}"
body = "Hi there, {{ first_line }}"
delay_days = 2
[[steps]]
body = "Following up."
delay_days = 2
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config, and three leads enrolled in a sequence whose first step waits two days."""
    path = tmp_path / "outreach.toml"
    path.write_text(CONFIG.format(data=tmp_path / "data"))

    async def prepare() -> None:
        rt = await Runtime.open(load_settings(path), load_entry_points=False)
        try:
            await enrolled(rt, 3, DELAYED)
            await EmailRow.update({EmailRow.mailbox: "old"}).where(EmailRow.id == 3)
        finally:
            await rt.close()

    asyncio.run(prepare())
    return path


def run(config: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def test_the_command_line_names_holds_sends_now_and_moves(config: Path) -> None:
    idle = run(config, "send", "--until-idle")
    assert "Sent 0," in idle
    assert "0 waiting" not in idle
    assert "3 queued emails wait: 2 waiting for their step's delay (the first until " in idle
    assert "1 in a mailbox that is not in the config any more" in idle
    stats = json.loads(run(config, "send", "--until-idle", "--json"))
    assert stats["sent"] == 0
    assert "waiting" in stats  # the old fields stay
    assert stats["queued"] == 3
    assert stats["holds"] == {"delay": 2, "stranded": 1}

    listed = {e["id"]: e for e in json.loads(run(config, "outbox", "list", "--json"))}
    assert listed[3]["stranded"] is True
    assert listed[3]["hold"]["kind"] == "stranded"
    assert listed[1]["stranded"] is False
    assert (listed[1]["hold"]["kind"], listed[1]["hold"]["skippable"]) == ("delay", True)
    assert listed[1]["state"] == "queued"
    assert "message_id" in listed[1]

    dry = run(config, "send", "--dry-run")
    assert "[delay]: its step's delay has not passed until" in dry
    assert "[stranded]: mailbox 'old' is not in the config any more" in dry

    refused = run(config, "outbox", "retry", "1", code=1)
    assert "Email 1 is queued, not failed: it waits until" in refused
    assert "because its step's delay has not passed" in refused
    assert "`outreach outbox send-now 1`" in refused

    assert run(config, "outbox", "send-now", "1").startswith(
        "Email 1 is due now, no longer waiting because its step's delay has not passed;"
    )
    assert "Sent 1," in run(config, "send", "--until-idle")

    moved = run(config, "outbox", "move", "--from", "old", "--to", "main")
    assert moved.startswith("Moved 1 email from 'old' to 'main' (now from Ann Example <ann@main.example>).")
    nowhere = run(config, "outbox", "move", "--from", "old", "--to", "nowhere", code=1)
    assert "There is no mailbox named 'nowhere' in the config" in nowhere
    assert "Traceback" not in nowhere

    cancelled = run(config, "outbox", "cancel", "2")
    assert cancelled.strip() == (
        "Email 2 is cancelled. The lead's sequence (intro) stops too: no later step is queued for this lead."
    )
    moved_json = json.loads(run(config, "outbox", "move", "--from", "old", "--to", "main", "--json"))
    assert moved_json["moved"] == []


def test_send_now_and_move_leave_no_address_in_the_log(config: Path) -> None:
    run(config, "outbox", "send-now", "1")
    run(config, "outbox", "move", "--from", "old", "--to", "main", "3")
    run(config, "send", "--until-idle")
    log = log_path(config.parent / "data")
    assert log.exists()
    text = log.read_text()
    for address in ("owner0@lead0.example", "owner2@lead2.example"):
        assert address not in text
    assert msgspec.json.decode(run(config, "outbox", "list", "--json"))[-1]["id"] == 1
