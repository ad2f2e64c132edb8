"""The outbox worker in one process: the compliance seam, retries, reconciliation, a person's decisions,
concurrent workers, the dry run and the background task. Senders are the outbox or throwaway plugins."""

from __future__ import annotations

import asyncio
import email
import json
import logging
import os
import socket
import stat
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import msgspec
import pytest
from engine_helpers import SEQUENCE, Clock, enrolled, mailbox, ready_leads, with_legal

from outreach.kernel import (
    ComplianceContext,
    OutgoingMessage,
    SendReceipt,
    TransientSendError,
    Verdict,
    hookimpl,
)
from outreach.kernel.logs import configure_logging
from outreach.kernel.services import audit
from outreach.kernel.services.outbox import actions, handover
from outreach.kernel.services.outbox.dry_run import explain
from outreach.kernel.services.outbox.planner import due_query
from outreach.kernel.services.outbox.reconcile import reconcile
from outreach.kernel.store.tables import EmailRow, SuppressionRow

# The store's behaviour, on SQLite and on PostgreSQL alike.
pytestmark = pytest.mark.both_engines


@pytest.fixture
def make_settings(make_settings):
    """Settings a sender of real mail may send with (the compliance checks hold mail back without them)."""
    return with_legal(make_settings)


class Recorder:
    """A throwaway sender that keeps what it is given (and cannot look anything up)."""

    name = "recorder"

    def __init__(self, delay: float = 0.0, transient: bool = False) -> None:
        self.delay = delay
        self.transient = transient
        self.sent: list[OutgoingMessage] = []

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        await asyncio.sleep(self.delay)
        if self.transient:
            raise TransientSendError("try later", reply="421 busy")
        self.sent.append(message)
        return SendReceipt(message_id=message.message_id, detail="recorded")


class RecorderPlugin:
    def __init__(self, sender: Recorder) -> None:
        self.sender = sender

    @hookimpl
    def register_senders(self, register) -> None:
        register(self.sender)


def settings_for(make_settings, backend: str = "outbox", mailboxes=None, **sending):
    return make_settings(
        sender={"backend": backend},
        mailboxes=mailboxes or [mailbox()],
        sending={"rate_limit_per_minute": 0, **sending},
    )


# -- the compliance seam -----------------------------------------------------------------------


class Legal:
    """A throwaway compliance plugin: headers and a footer on everything, one block, one defer."""

    name = "legal"

    async def prepare(self, message: OutgoingMessage, context: ComplianceContext) -> OutgoingMessage:
        return message.with_headers(
            {
                "List-Unsubscribe": "<https://x.example/u/1>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            }
        ).with_footer(
            "1 Main St, Springfield\nUnsubscribe: https://x.example/u/1", "<p>1 Main St, Springfield</p>"
        )

    async def check(self, message: OutgoingMessage, context: ComplianceContext) -> Verdict:
        assert "1 Main St" in message.text  # checks see the prepared message
        if message.to_address.startswith("owner0@"):
            return Verdict.block("the address is on a do-not-contact list")
        if message.to_address.startswith("owner1@"):
            return Verdict.defer(context.now + timedelta(hours=3), "the domain asked us to slow down")
        return Verdict.allow()


class LegalPlugin:
    @hookimpl
    def register_compliance_checks(self, register) -> None:
        register(Legal())


async def test_compliance_checks_block_defer_and_shape_every_message(
    make_settings, make_runtime, data_dir
) -> None:
    # The seam alone: the built-in compliance plugin (tested in test_compliance.py) stays out.
    settings = msgspec.structs.replace(settings_for(make_settings), disabled=["compliance"])
    rt = await make_runtime(settings, extra_plugins=[("legal", LegalPlugin())])
    clock = Clock()
    rt.clock = clock
    firsts = await enrolled(rt, 3)
    stats = await rt.outbox.run_until_idle()
    assert (stats.sent, stats.blocked, stats.deferred) == (1, 1, 1)
    blocked, deferred, sent = [await rt.emails.get(i) for i in sorted(firsts.values())]
    assert blocked.state == "failed"
    assert blocked.last_error == "the address is on a do-not-contact list"
    trail = await audit.trail("email", blocked.id)
    assert trail[-1].actor == "compliance:legal"
    assert trail[-1].action == "transition:queued->failed"
    assert deferred.state == "queued"
    assert deferred.due_at == clock.now + timedelta(hours=3)
    (eml,) = (data_dir / "outbox").glob("*.eml")
    parsed = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert parsed["Message-ID"] == sent.message_id
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed.get_body(("plain",)).get_content().rstrip().endswith("Unsubscribe: https://x.example/u/1")
    assert "<p>1 Main St, Springfield</p>" in parsed.get_body(("html",)).get_content()


async def test_suppressed_addresses_are_never_mailed(runtime) -> None:
    runtime.clock = Clock()
    await runtime.sequences.load_text(SEQUENCE, actor="test")
    ids = await ready_leads(runtime, 2)
    result = await runtime.enrollment.enroll("intro", ids, actor="test")
    lead = await runtime.leads.get(ids[0])
    await SuppressionRow.insert(
        SuppressionRow(email_hash=runtime.vault.hash_email(lead.email), reason="unsubscribed")
    )
    stats = await runtime.outbox.run_until_idle()
    assert stats.sent == 1
    assert stats.cancelled == 1
    assert (await runtime.emails.get(result.enrolled[ids[0]])).state == "cancelled"
    again = await runtime.enrollment.enroll("intro", ids, actor="test")
    assert again.enrolled == {}


# -- retries, reconciliation and a person's decisions -----------------------------------------


class LeadReader:
    """A check that notes the lead it was given (``reads_lead`` as the test sets it)."""

    name = "lead-reader"

    def __init__(self, reads: bool | None) -> None:
        if reads is not None:
            self.reads_lead = reads
        self.seen: list[object] = []

    async def check(self, message: OutgoingMessage, context: ComplianceContext) -> Verdict:
        self.seen.append(context.lead)
        return Verdict.allow()


@pytest.mark.parametrize("reads", [None, True, False])
async def test_leads_are_decrypted_for_checks_only_when_one_reads_them(
    make_settings, make_runtime, reads
) -> None:
    check = LeadReader(reads)

    class Plugin:
        @hookimpl
        def register_compliance_checks(self, register) -> None:
            register(check)

    rt = await make_runtime(settings_for(make_settings), extra_plugins=[("lead-reader", Plugin())])
    firsts = await enrolled(rt, 2)
    stats = await rt.outbox.run_until_idle()
    assert stats.sent == 2
    if reads is False:
        # The built-in checks say they never read leads, and so does this one.
        assert check.seen == [None, None]
    else:
        assert sorted(lead.id for lead in check.seen) == sorted(firsts)
        for lead in check.seen:
            assert lead.email == (await rt.leads.get(lead.id)).email
            assert "@" in lead.email


async def test_transient_errors_back_off_exponentially_then_fail(make_settings, make_runtime) -> None:
    sender = Recorder(transient=True)
    rt = await make_runtime(
        settings_for(
            make_settings, backend="recorder", retry_base_seconds=60, retry_max_seconds=600, max_attempts=4
        ),
        extra_plugins=[("recorder", RecorderPlugin(sender))],
    )
    clock = Clock()
    rt.clock = clock
    (email_id,) = (await enrolled(rt, 1)).values()
    waits = []
    for _ in range(4):
        await rt.outbox.run_until_idle()
        current = await rt.emails.get(email_id)
        if current.state == "failed":
            break
        waits.append((current.due_at - clock.now).total_seconds())
        clock.now = current.due_at
    assert 30 <= waits[0] <= 60
    assert 60 <= waits[1] <= 120
    assert 120 <= waits[2] <= 240
    failed = await rt.emails.get(email_id)
    assert failed.state == "failed"
    assert failed.attempts == 4
    assert "421 busy" in failed.last_error
    assert "gave up after 4 tries" in failed.last_error


async def test_an_interrupted_send_without_lookup_waits_for_a_person(make_settings, make_runtime) -> None:
    sender = Recorder()
    rt = await make_runtime(
        settings_for(make_settings, backend="recorder"), extra_plugins=[("recorder", RecorderPlugin(sender))]
    )
    firsts = await enrolled(rt, 2)
    ids = sorted(firsts.values())
    await EmailRow.update(
        {
            EmailRow.state: "sending",
            EmailRow.claimed_by: "nowhere:4000000:dead",
            EmailRow.claimed_at: datetime.now(UTC) - timedelta(hours=1),
            EmailRow.sender_backend: "recorder",
        }
    ).where(EmailRow.id.is_in(ids))
    stats = await rt.outbox.run_until_idle()
    assert stats.reconciled == 2
    assert sender.sent == []
    attention = await rt.emails.list(needs_attention=True)
    assert sorted(e.id for e in attention.items) == ids
    assert (await rt.outbox.run_until_idle()).sent == 0  # nothing is resent on its own
    await actions.mark_sent(rt, ids[0], actor="web")
    await actions.requeue(rt, ids[1], actor="web")
    assert (await rt.outbox.run_until_idle()).sent == 1
    assert [m.email_id for m in sender.sent] == [ids[1]]
    states = [(await rt.emails.get(i)).state for i in ids]
    assert states == ["sent", "sent"]
    with pytest.raises(Exception, match="needs-attention"):
        await actions.requeue(rt, ids[0], actor="web")


def _dead_owner(host: str | None = None) -> str:
    """An owner on this host (or ``host``) that is certainly gone: this process, not a live worker."""
    return f"{host or socket.gethostname()}:{os.getpid()}:gone{uuid.uuid4().hex[:4]}"


async def _orphaned(rt, ids, owner: str) -> None:
    await EmailRow.update(
        {
            EmailRow.state: "sending",
            EmailRow.version: EmailRow.version + 1,
            EmailRow.claimed_by: owner,
            EmailRow.claimed_at: datetime.now(UTC) - timedelta(hours=1),
            EmailRow.sender_backend: "recorder",
        }
    ).where(EmailRow.id.is_in(ids))


def _write_log(rt, owner: str, lines: list[str], boot: str | None = None) -> Path:
    path = handover.handover_path(rt.settings.data_path, owner)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = f"B {boot or handover.boot_id()} {owner}\n"
    path.write_text(header + "".join(f"{line}\n" for line in lines))
    return path


async def test_a_dead_workers_log_settles_what_it_never_handed_over(make_settings, make_runtime) -> None:
    sender = Recorder()
    rt = await make_runtime(
        settings_for(make_settings, backend="recorder"), extra_plugins=[("recorder", RecorderPlugin(sender))]
    )
    never, accepted, refused, unknown, old_claim = sorted((await enrolled(rt, 5)).values())
    owner = _dead_owner()
    await _orphaned(rt, [never, accepted, refused, unknown, old_claim], owner)
    version = {e: (await rt.emails.get(e)).version for e in (accepted, refused, unknown, old_claim)}
    path = _write_log(
        rt,
        owner,
        [
            f"H {old_claim} {version[old_claim] - 1}",  # an earlier claim of it, refused then
            f"N {old_claim}",
            f"H {accepted} {version[accepted]}",
            f'A {accepted} ["<provider-1>",null]',
            f"H {refused} {version[refused]}",
            f"N {refused}",
            f"H {unknown} {version[unknown]}",
            f"H {never}",  # a line cut short by the crash: never written whole, so nothing sent
        ],
    )
    path.write_bytes(path.read_bytes()[:-1])
    result = await reconcile(rt, "someone:else:alive")
    assert sorted(result.requeued) == sorted([never, refused, old_claim])
    assert result.sent == [accepted]
    assert result.attention == [unknown]
    sent = await rt.emails.get(accepted)
    assert sent.state == "sent"
    assert sent.provider_message_id == "<provider-1>"
    assert [(await rt.emails.get(e)).state for e in (never, refused, old_claim)] == ["queued"] * 3
    rows = await audit.trail("email", never)
    assert any("before handing it to any server" in json.dumps(r.new_value) for r in rows)
    assert not path.exists()  # nothing of its owner is left in sending
    stats = await rt.outbox.run_until_idle()
    assert stats.sent == 3
    assert sorted(m.email_id for m in sender.sent) == sorted([never, refused, old_claim])


@pytest.mark.parametrize("case", ["rebooted", "other host", "no log", "garbled"])
async def test_an_untrusted_log_leaves_every_claimed_email_for_a_person(
    make_settings, make_runtime, case
) -> None:
    sender = Recorder()
    rt = await make_runtime(
        settings_for(make_settings, backend="recorder"), extra_plugins=[("recorder", RecorderPlugin(sender))]
    )
    ids = sorted((await enrolled(rt, 3)).values())
    owner = _dead_owner("elsewhere" if case == "other host" else None)
    await _orphaned(rt, ids, owner)
    version = (await rt.emails.get(ids[0])).version
    lines = [f"H {ids[0]} {version}", f"A {ids[0]}", f"H {ids[1]} {version}", f"N {ids[1]}"]
    if case == "garbled":
        lines.insert(2, "H 12")
    if case != "no log":
        path = _write_log(rt, owner, lines, boot="another-boot" if case == "rebooted" else None)
    result = await reconcile(rt, "someone:else:alive")
    assert sorted(result.attention) == ids  # as without a log: each may be with the server
    assert result.sent == result.requeued == []
    assert sender.sent == []
    if case == "other host":
        assert path.exists()  # another machine's, sharing the folder: not ours to delete
    elif case != "no log":
        assert not path.exists()


async def test_the_worker_writes_its_log_privately_and_removes_it_when_it_stops(
    make_settings, make_runtime
) -> None:
    seen: list[str] = []

    class Peeking(Recorder):
        async def send(self, message: OutgoingMessage) -> SendReceipt:
            log_path = handover.handover_path(rt.settings.data_path, rt.outbox.owner)
            assert stat.S_IMODE(log_path.stat().st_mode) == 0o600
            assert stat.S_IMODE(log_path.parent.stat().st_mode) == 0o700
            seen.append(log_path.read_text().splitlines()[-1])
            return await super().send(message)

    sender = Peeking()
    rt = await make_runtime(
        settings_for(make_settings, backend="recorder"), extra_plugins=[("recorder", RecorderPlugin(sender))]
    )
    ids = sorted((await enrolled(rt, 2)).values())
    assert (await rt.outbox.run_until_idle()).sent == 2
    assert sorted(int(line.split()[1]) for line in seen) == ids
    assert all(line.startswith("H ") for line in seen)
    assert not handover.handover_path(rt.settings.data_path, rt.outbox.owner).exists()


async def test_two_workers_in_one_process_never_send_one_email_twice(make_settings, make_runtime) -> None:
    # Sends slow enough that the second worker plans and claims while the first one sends.
    sender = Recorder(delay=0.01)
    rt = await make_runtime(
        settings_for(make_settings, backend="recorder", batch_size=4),
        extra_plugins=[("recorder", RecorderPlugin(sender))],
    )
    await enrolled(rt, 40)
    from outreach.kernel.services.outbox.worker import OutboxWorker

    first, second = OutboxWorker(rt), OutboxWorker(rt)
    results = await asyncio.gather(first.run_until_idle(), second.run_until_idle())
    assert sum(r.sent for r in results) == 40
    assert all(r.sent > 0 for r in results)
    counts = Counter(m.message_id for m in sender.sent)
    assert len(counts) == 40
    assert max(counts.values()) == 1


async def test_dry_run_says_what_goes_now_and_why_the_rest_waits(make_settings, make_runtime) -> None:
    rt = await make_runtime(settings_for(make_settings, mailboxes=[mailbox(daily_cap=1)]))
    rt.clock = Clock()
    await enrolled(rt, 3)
    report = await explain(rt)
    actions_seen = Counter(item.action for item in report.items)
    assert actions_seen["send"] == 1
    assert actions_seen["wait"] == 2
    assert any("today's cap" in (item.reason or "") for item in report.items if item.action == "wait")
    assert (await rt.emails.count_by_state())["queued"] == 3  # the dry run wrote nothing


async def test_the_worker_runs_in_the_background_of_serve_and_worker(
    make_settings, make_runtime, data_dir
) -> None:
    rt = await make_runtime(settings_for(make_settings, poll_seconds=0.05))
    await enrolled(rt, 2)
    await rt.start_background()
    for _ in range(100):
        if (await rt.emails.count_by_state())["sent"] == 2:
            break
        await asyncio.sleep(0.05)
    assert (await rt.emails.count_by_state())["sent"] == 2
    assert len(list((data_dir / "outbox").glob("*.eml"))) == 2


async def test_enrolling_wakes_the_background_worker_without_waiting_for_its_poll(
    make_settings, make_runtime
) -> None:
    rt = await make_runtime(settings_for(make_settings, poll_seconds=300))
    await rt.sequences.load_text(SEQUENCE, actor="test")
    ids = await ready_leads(rt, 3)
    rt.outbox.start()
    try:
        await asyncio.sleep(0.3)  # the worker found nothing and now pauses for 300 s
        assert (await rt.emails.count_by_state()).get("sent", 0) == 0
        await rt.enrollment.enroll("intro", ids, actor="test")
        for _ in range(100):
            if (await rt.emails.count_by_state()).get("sent") == 3:
                break
            await asyncio.sleep(0.05)
        assert (await rt.emails.count_by_state())["sent"] == 3
    finally:
        await rt.outbox.stop()


# -- what the worker costs ------------------------------------------------------------------


@pytest.mark.sqlite_only
async def test_due_emails_are_read_in_order_from_an_index_without_sorting(runtime) -> None:
    query = due_query(datetime.now(UTC), 200, ["main"])
    steps = " | ".join(row["detail"] for row in await EmailRow.raw(f"EXPLAIN QUERY PLAN {query}"))
    assert "emails_state_due" in steps
    assert "TEMP B-TREE" not in steps


async def test_sent_emails_are_logged_once_per_batch_with_their_ids(
    make_settings, make_runtime, tmp_path
) -> None:
    sender = Recorder()
    rt = await make_runtime(
        settings_for(make_settings, backend="recorder"), extra_plugins=[("recorder", RecorderPlugin(sender))]
    )
    log_file = configure_logging(tmp_path, level="info", console_level="critical")
    try:
        firsts = await enrolled(rt, 3)
        assert (await rt.outbox.run_until_idle()).sent == 3
    finally:
        for handler in list(logging.getLogger().handlers):
            if getattr(handler, "_outreach", False):
                logging.getLogger().removeHandler(handler)
                handler.close()
    events = [json.loads(line) for line in log_file.read_text().splitlines()]
    (sent,) = [e for e in events if e["event"] == "emails_sent"]
    assert sent["count"] == 3
    assert sent["sender"] == "recorder"
    assert sorted(sent["email_ids"]) == sorted(firsts.values())
