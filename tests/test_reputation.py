"""The reputation plugin: warm-up caps on show, leads spread by remaining capacity, automatic pauses
(a policy block through the real SMTP worker, an ARF complaint and a bounce rate through the inbound
path), resuming from the CLI and the page, and the content checks."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from engine_helpers import ONE_STEP, Clock, enrolled, mailbox, ready_leads, with_legal
from inbound_helpers import _crlf, dsn
from litestar.testing import AsyncTestClient
from mail_servers import Sink, SinkHandler

from outreach.kernel import (
    Attachment,
    ComplianceContext,
    InboundMessage,
    OutgoingMessage,
    Verdict,
    VerdictAction,
    hookimpl,
)
from outreach.kernel.config import load_settings
from outreach.kernel.mail.analysis import analyze_message
from outreach.kernel.runtime import Runtime
from outreach.kernel.services import plugin_state
from outreach.kernel.services.outbox.dry_run import explain
from outreach.kernel.store.tables import AuditRow
from outreach.plugins.reputation import reputation_for
from outreach.plugins.reputation.blocks import POLICY_BLOCKS, policy_block
from outreach.plugins.reputation.content import content_findings
from outreach.web import create_app
from outreach.web.cli import cli


@pytest.fixture
def make_settings(make_settings):
    return with_legal(make_settings)


def settings_for(make_settings, *, mailboxes=None, reputation=None, **raw):
    return make_settings(
        mailboxes=mailboxes or [mailbox()],
        sending={"rate_limit_per_minute": 0},
        plugins={"reputation": reputation or {}},
        **raw,
    )


async def pause(name: str, reason: str = "a test said so") -> None:
    book = await plugin_state.load("reputation", "paused", {})
    book[name] = {"kind": "test", "reason": reason, "since": "2026-11-23T15:00:00+00:00"}
    await plugin_state.save("reputation", "paused", book)


async def status_of(rt: Runtime, name: str = "main"):
    return next(box for box in await rt.mailboxes.status() if box.name == name)


# -- the policy-block table: one test per row ----------------------------------------------------


@pytest.mark.parametrize(("name", "pattern", "example"), POLICY_BLOCKS, ids=[row[0] for row in POLICY_BLOCKS])
def test_each_policy_block_row_matches_its_provider_reply(name, pattern, example) -> None:
    assert pattern.search(example), name
    assert policy_block(f"smtp: server said: {example}") is not None


@pytest.mark.parametrize(
    "reply",
    [
        "550 5.1.1 <a@b.example>: Recipient address rejected: User unknown",
        "451 4.3.0 Try again later",
        "452 4.2.2 Mailbox full",
        None,
    ],
)
def test_an_address_problem_or_a_busy_server_is_no_policy_block(reply) -> None:
    assert policy_block(reply) is None


# -- warm-up and assignment -------------------------------------------------------------------


async def test_the_ramp_shows_todays_cap_and_the_day_it_reaches_the_full_cap(
    make_settings, make_runtime
) -> None:
    rt = await make_runtime(
        settings_for(
            make_settings,
            mailboxes=[
                mailbox(daily_cap=30, ramp_up_start=10, ramp_up_step=5, timezone="UTC"),
                mailbox("flat"),
            ],
        )
    )
    clock = Clock()
    rt.clock = clock
    warming, flat = await rt.mailboxes.status()
    assert (warming.cap_today, warming.full_cap_on) == (10, (clock.now + timedelta(days=4)).date())
    assert flat.full_cap_on is None
    assert flat.cap_today == flat.daily_cap
    # Once it sent, the ramp counts from its first send.
    await enrolled(rt, 1, sequence=ONE_STEP)
    await rt.outbox.run_until_idle()
    clock.advance(days=1)
    warming = await status_of(rt)
    assert warming.cap_today == 15
    assert warming.full_cap_on == (warming.first_sent_at + timedelta(days=4)).date()


async def test_leads_are_spread_by_what_each_mailbox_may_still_send_today(
    make_settings, make_runtime
) -> None:
    rt = await make_runtime(
        settings_for(
            make_settings,
            mailboxes=[
                mailbox("warming", daily_cap=100, ramp_up_start=10, ramp_up_step=5),
                mailbox("full", daily_cap=40),
                mailbox("stopped", daily_cap=100),
            ],
        )
    )
    rt.clock = Clock()
    await pause("stopped")
    chosen = Counter(await rt.mailboxes.assign(50))
    # Remaining today: 10 and 40 (by daily_cap it would be 100 and 40); the paused one gets none.
    assert chosen == {"warming": 10, "full": 40}


# -- pauses -------------------------------------------------------------------------------------


class BlockingSink(SinkHandler):
    """A server that refuses every recipient with a policy block, as Gmail words it."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    async def handle_RCPT(self, server, session, envelope, address, options) -> str:
        self.attempts += 1
        return "550 5.7.1 [127.0.0.1] Our system has detected that this message is likely unsolicited mail."


async def test_a_policy_block_from_the_server_pauses_the_mailbox_and_its_queue_waits(
    make_settings, make_runtime
) -> None:
    handler = BlockingSink()
    sink = await Sink(handler).start()
    try:
        rt = await make_runtime(
            settings_for(
                make_settings,
                sender={"backend": "smtp", "smtp": {"host": "127.0.0.1", "port": sink.port, "timeout": 5}},
            )
        )
        rt.clock = Clock()
        await enrolled(rt, 1, sequence=ONE_STEP)
        await rt.outbox.run_until_idle()
        await reputation_for(rt.plugins.context).settle()
        box = await status_of(rt)
        assert box.paused
        assert "policy block" in box.paused_reason
        assert "5.7.1" in box.paused_reason
        assert "outreach mailboxes resume main" in box.paused_reason
        assert handler.attempts == 1

        # Leads enrolled now wait in the paused mailbox: nothing reaches the server.
        await rt.sequences.load_text(ONE_STEP.replace('"intro"', '"later"'), actor="test")
        ids = await ready_leads(
            rt, 2, business_name=lambda i: f"Later {i}", email=lambda i: f"later{i}@next{i}.example"
        )
        await rt.enrollment.enroll("later", ids, actor="test")
        report = await explain(rt)
        waiting = [item for item in report.items if item.action == "defer"]
        assert len(waiting) == 2
        assert all("paused since" in item.reason and "resume with" in item.reason for item in waiting)
        await rt.outbox.run_until_idle()
        assert handler.attempts == 1
        assert (await rt.emails.count_by_state())["queued"] == 2
        paused = await AuditRow.select().where(AuditRow.action == "mailbox_paused")
        assert len(paused) == 1
        assert paused[0]["actor"] == "plugin:reputation"
    finally:
        await sink.stop()


def feedback_report(original_message_id: str, to_address: str) -> bytes:
    """A spam complaint as a mailbox provider sends it: the example of RFC 5965 section B.2
    (Appendix B, "Example"), a multipart/report with report-type=feedback-report whose second
    part is message/feedback-report and whose third is the complained-about message."""
    boundary = "part1_13d.2e68ed54_boundary"
    return _crlf(
        f"""From: <abusedesk@example.com>
Date: Thu, 8 Mar 2005 17:40:36 EDT
Subject: FW: Earn money
To: <abuse@main.example>
Message-ID: <{uuid.uuid4().hex}@example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
     boundary="{boundary}"

--{boundary}
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
192.0.2.1 on Thu, 8 Mar 2005 14:00:00 EDT.  For more information
about this format please see http://www.mipassoc.org/arf/.

--{boundary}
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <ann@main.example>
Original-Rcpt-To: <{to_address}>
Received-Date: Thu, 8 Mar 2005 14:00:00 EDT
Source-IP: 192.0.2.1
Authentication-Results: mail.example.com; spf=fail smtp.mail=ann@main.example
Reported-Domain: main.example

--{boundary}
Content-Type: message/rfc822
Content-Disposition: inline

From: <ann@main.example>
Received: from mailserver.example.net (mailserver.example.net [192.0.2.1])
        by example.com with ESMTP id M63d4137594e46; Thu, 08 Mar 2005 14:00:00 -0400
To: <{to_address}>
Subject: Earn money
MIME-Version: 1.0
Content-type: text/plain
Message-ID: {original_message_id}
Date: Thu, 02 Sep 2004 12:31:03 -0500

Spam Spam Spam

--{boundary}--
"""
    )


async def test_an_arf_complaint_through_the_inbound_path_pauses_the_mailbox(
    make_settings, make_runtime
) -> None:
    rt = await make_runtime(settings_for(make_settings))
    rt.clock = Clock()
    firsts = await enrolled(rt, 2, sequence=ONE_STEP)
    assert (await rt.outbox.run_until_idle()).sent == 2
    email = await rt.emails.get(next(iter(firsts.values())))
    raw = feedback_report(email.message_id, email.to_address)

    analysis = await analyze_message(raw)
    assert (analysis.kind, analysis.category.category, analysis.category.detail) == (
        "reply",
        "complaint",
        "abuse",
    )

    await rt.inbound.process(InboundMessage(raw=raw, source="test"))
    await reputation_for(rt.plugins.context).settle()
    assert (await rt.emails.get(email.id)).category == "complaint"
    box = await status_of(rt)
    assert box.paused
    assert f"spam complaint about email {email.id}" in box.paused_reason
    # The person who complained is never mailed again.
    assert await rt.suppressions.is_suppressed(email.to_address)


async def test_hard_bounces_past_the_configured_rate_pause_the_mailbox(make_settings, make_runtime) -> None:
    rt = await make_runtime(
        settings_for(make_settings, reputation={"bounce_window": 10, "max_bounce_rate": 0.1, "min_sends": 10})
    )
    rt.clock = Clock()
    firsts = await enrolled(rt, 10, sequence=ONE_STEP)
    assert (await rt.outbox.run_until_idle()).sent == 10
    reputation = reputation_for(rt.plugins.context)
    await reputation.settle()
    emails = [await rt.emails.get(firsts[lead]) for lead in sorted(firsts)]
    unknown = "550 5.1.1 <x>: Recipient address rejected: User unknown"

    # One soft bounce is no hard bounce; one hard bounce in ten is 10%, not more.
    await rt.inbound.process(
        InboundMessage(raw=dsn(emails[0], status="4.2.2", diagnostic="452 4.2.2 Mailbox full"), source="t")
    )
    await rt.inbound.process(
        InboundMessage(raw=dsn(emails[1], status="5.1.1", diagnostic=unknown), source="t")
    )
    await reputation.settle()
    assert not (await status_of(rt)).paused

    await rt.inbound.process(
        InboundMessage(raw=dsn(emails[2], status="5.1.1", diagnostic=unknown), source="t")
    )
    await reputation.settle()
    box = await status_of(rt)
    assert box.paused
    assert "2 hard bounces in its last 10 sends (20.0%, more than 10.0%)" in box.paused_reason


async def test_a_bounce_with_a_policy_block_pauses_the_mailbox_though_it_is_soft(
    make_settings, make_runtime
) -> None:
    rt = await make_runtime(settings_for(make_settings))
    rt.clock = Clock()
    firsts = await enrolled(rt, 2, sequence=ONE_STEP)
    assert (await rt.outbox.run_until_idle()).sent == 2
    email = await rt.emails.get(next(iter(firsts.values())))
    blocked = "550 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org"
    record = await rt.inbound.process(
        InboundMessage(raw=dsn(email, status="5.7.1", diagnostic=blocked), source="t")
    )
    assert (record.kind, record.bounce_class) == ("bounce", "soft")
    await reputation_for(rt.plugins.context).settle()
    box = await status_of(rt)
    assert box.paused
    assert f"a bounce of email {email.id} says its server blocks this mailbox" in box.paused_reason
    assert "5.7.1" in box.paused_reason
    # A soft bounce moves no email and suppresses nobody: the address was not the problem.
    assert (await rt.emails.get(email.id)).state == "sent"
    assert not await rt.suppressions.is_suppressed(email.to_address)


async def test_a_bounce_for_a_bad_address_pauses_nothing(make_settings, make_runtime) -> None:
    rt = await make_runtime(settings_for(make_settings))
    rt.clock = Clock()
    firsts = await enrolled(rt, 1, sequence=ONE_STEP)
    await rt.outbox.run_until_idle()
    email = await rt.emails.get(next(iter(firsts.values())))
    full = "452 4.2.2 <x>: Recipient address rejected: Mailbox full"
    await rt.inbound.process(InboundMessage(raw=dsn(email, status="4.2.2", diagnostic=full), source="t"))
    await reputation_for(rt.plugins.context).settle()
    assert not (await status_of(rt)).paused


async def test_closing_the_runtime_saves_a_pause_its_last_batch_caused(make_settings) -> None:
    """A short ``outreach send`` ends right after its last batch: the pause must not be lost."""
    handler = BlockingSink()
    sink = await Sink(handler).start()
    settings = settings_for(
        make_settings,
        sender={"backend": "smtp", "smtp": {"host": "127.0.0.1", "port": sink.port, "timeout": 5}},
    )
    try:
        rt = await Runtime.open(settings, load_entry_points=False)
        try:
            rt.clock = Clock()
            await enrolled(rt, 1, sequence=ONE_STEP)
            await rt.outbox.run_until_idle()
        finally:
            await rt.close()  # no settle() of the plugin's own: closing waits for its work
        assert handler.attempts == 1
        rt = await Runtime.open(settings, load_entry_points=False)
        try:
            assert (await status_of(rt)).paused
        finally:
            await rt.close()
    finally:
        await sink.stop()


async def test_queued_emails_wait_in_a_paused_mailbox_or_move_when_configured(make_settings) -> None:
    boxes = [mailbox("main"), mailbox("spare", daily_cap=30), mailbox("other", daily_cap=10)]
    waiting = settings_for(make_settings, mailboxes=boxes)
    rt = await Runtime.open(waiting, load_entry_points=False)
    try:
        rt.clock = clock = Clock()
        firsts = await enrolled(rt, 12, sequence=ONE_STEP)
        await pause("main")
        await pause("other")
        held = {i: (await rt.emails.get(i)).mailbox for i in firsts.values()}
        in_paused = sorted(i for i, box in held.items() if box in ("main", "other"))
        assert {held[i] for i in in_paused} == {"main", "other"}
        await rt.outbox.run_until_idle()
        # By default they wait for a resume: the check pushed each back.
        for email_id in in_paused:
            email = await rt.emails.get(email_id)
            assert (email.state, email.mailbox) == ("queued", held[email_id])
            assert email.due_at > clock()
    finally:
        await rt.close()

    moving = settings_for(make_settings, mailboxes=boxes, deliverability={"move_when_paused": True})
    rt = await Runtime.open(moving, load_entry_points=False)
    try:
        rt.clock = clock
        await rt.outbox.run_until_idle()
        for email_id in in_paused:
            email = await rt.emails.get(email_id)
            # Moved to the one mailbox that is not paused, due again at once, and sent from it.
            assert (email.state, email.mailbox) == ("sent", "spare"), email_id
            assert email.from_address == "Ann Example <ann@spare.example>"
            assert email.message_id.endswith("@spare.example>")
        moves = await AuditRow.select().where(AuditRow.action == "moved")
        assert sorted(row["entity_id"] for row in moves) == in_paused
        assert {row["actor"] for row in moves} == {"system:move_when_paused"}
        assert (await rt.emails.count_by_state()).get("queued", 0) == 0
    finally:
        await rt.close()


# -- resuming -----------------------------------------------------------------------------------


CONFIG = """
data_dir = "{data}"
[[mailboxes]]
name = "main"
from_address = "Ann Example <ann@main.example>"
daily_cap = 40
ramp_up_start = 10
ramp_up_step = 10
"""


def test_mailboxes_list_shows_the_pause_and_resume_lifts_it_on_the_command_line(tmp_path: Path) -> None:
    config = tmp_path / "outreach.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data"))

    async def in_runtime(work):
        rt = await Runtime.open(load_settings(config), load_entry_points=False)
        try:
            return await work(rt)
        finally:
            await rt.close()

    asyncio.run(in_runtime(lambda rt: pause("main", "a spam complaint about email 7")))

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    (box,) = json.loads(run("mailboxes", "list", "--json"))
    assert box["paused"] is True
    assert "a spam complaint about email 7" in box["paused_reason"]
    assert "outreach mailboxes resume main" in box["paused_reason"]
    assert box["cap_today"] == 10
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", box["full_cap_on"])

    assert "Mailbox 'main' is resumed." in run("mailboxes", "resume", "main")
    (box,) = json.loads(run("mailboxes", "list", "--json"))
    assert (box["paused"], box["paused_reason"]) == (False, None)
    assert "was not paused" in run("mailboxes", "resume", "main")

    async def resumed(rt):
        return await AuditRow.select().where(AuditRow.action == "mailbox_resumed")

    (row,) = asyncio.run(in_runtime(resumed))
    assert row["actor"] == "cli"


async def test_the_dashboard_tells_and_the_mailboxes_page_resumes(make_settings, make_runtime) -> None:
    rt = await make_runtime(settings_for(make_settings))
    await pause("main", "its server refused email 3 with a policy block")
    async with AsyncTestClient(app=create_app(rt)) as client:
        dashboard = (await client.get("/")).text
        assert 'id="paused-mailboxes"' in dashboard
        assert "policy block" in dashboard
        page = await client.get("/mailboxes")
        assert "Resume main" in page.text
        assert "its queued emails wait" in page.text
        token = re.search(r'"x-csrftoken": "([^"]+)"', page.text).group(1)
        answer = await client.post(
            "/mailboxes/main/resume", headers={"x-csrftoken": token}, follow_redirects=False
        )
        assert answer.status_code == 303
        assert not (await status_of(rt)).paused
        assert "Resume main" not in (await client.get("/mailboxes")).text
        assert 'id="paused-mailboxes"' not in (await client.get("/")).text
    (row,) = await AuditRow.select().where(AuditRow.action == "mailbox_resumed")
    assert row["actor"] == "web"


# -- content ------------------------------------------------------------------------------------


def message(**fields) -> OutgoingMessage:
    values = {
        "email_id": 1,
        "message_id": "<m@main.example>",
        "from_address": "ann@main.example",
        "to_address": "owner@lead.example",
        "subject": "A question for Acme",
        "text": "Hi, a short question about your website.",
        **fields,
    }
    return OutgoingMessage(**values)


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"text": "See https://bit.ly/3xYz for more"}, "shortener"),
        ({"html": '<a href="http://www.tinyurl.com/abc">x</a>'}, "shortener"),
        ({"text": "", "html": "<p>Hi</p>"}, "no_text"),
        ({"subject": "FREE WEBSITE AUDIT"}, "caps_subject"),
        ({"text": "Click here to claim it, act now!"}, "phrase"),
        ({"subject": "A guaranteed result"}, "phrase"),
    ],
)
def test_content_findings_name_what_spam_filters_punish(fields, kind) -> None:
    assert kind in {k for k, _ in content_findings(message(**fields))}


def test_an_attachment_is_a_finding_on_the_first_email_only() -> None:
    brochure = Attachment(filename="prices.pdf", content_type="application/pdf", data=b"%PDF-1.4")
    first = message().with_attachment(brochure)
    assert content_findings(first) == [
        ("attachment", "an attachment on a first email (prices.pdf): link to the file instead")
    ]
    assert content_findings(message(step_number=2).with_attachment(brochure)) == []


#: A PDF's first bytes and a few that are not text, to show the bytes arrive unchanged.
BROCHURE = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256))


class Brochure:
    """A plugin whose preparer attaches a brochure to every message (as a user's plugin might)."""

    name = "brochure"
    reads_lead = False

    async def prepare(self, message: OutgoingMessage, context: ComplianceContext) -> OutgoingMessage:
        return message.with_attachment(
            Attachment(filename="Broschüre 2026.pdf", content_type="application/pdf", data=BROCHURE)
        )

    async def check(self, message: OutgoingMessage, context: ComplianceContext) -> Verdict:
        return Verdict.allow()

    @hookimpl
    def register_compliance_checks(self, register, context) -> None:
        register(self)


async def test_an_attached_file_is_sent_whole_and_warned_about_or_blocked_as_configured(
    make_settings, make_runtime
) -> None:
    handler = SinkHandler()
    sink = await Sink(handler).start()
    smtp = {"backend": "smtp", "smtp": {"host": "127.0.0.1", "port": sink.port, "timeout": 5}}
    try:
        rt = await make_runtime(
            settings_for(make_settings, sender=smtp), extra_plugins=[("brochure", Brochure())]
        )
        rt.clock = Clock()
        await enrolled(rt, 1, sequence=ONE_STEP)
        (item,) = (await explain(rt)).items
        assert item.action == "send"
        assert (
            "an attachment on a first email (Broschüre 2026.pdf): link to the file instead" in item.warnings
        )
        assert (await rt.outbox.run_until_idle()).sent == 1
        (received,) = handler.received
        mail = received.message
        assert mail.get_content_type() == "multipart/mixed"
        (attached,) = list(mail.iter_attachments())
        assert attached.get_filename() == "Broschüre 2026.pdf"
        assert attached.get_content_type() == "application/pdf"
        assert attached.get_content() == BROCHURE
        # The readable part is still there, and is what the recipient sees first.
        assert "Hi" in mail.get_body(("plain",)).get_content()
    finally:
        await sink.stop()


async def test_an_attachment_blocks_a_first_email_when_configured(make_settings, make_runtime) -> None:
    blocking = settings_for(make_settings, reputation={"block": ["attachment"]})
    rt = await make_runtime(blocking, extra_plugins=[("brochure", Brochure())])
    rt.clock = Clock()
    await enrolled(rt, 1, sequence=ONE_STEP)
    (item,) = (await explain(rt)).items
    assert item.action == "block"
    assert "an attachment on a first email" in item.reason


def test_a_plain_first_email_has_no_content_finding() -> None:
    assert (
        content_findings(message(subject="Question about ACME's site", html="<p>https://acme.example</p>"))
        == []
    )


async def test_content_warns_and_blocks_only_what_the_config_lists(make_settings, make_runtime) -> None:
    rt = await make_runtime(settings_for(make_settings, reputation={"block": ["shortener"]}))
    check = rt.plugins.compliance_checks.get("content")
    context = ComplianceContext(mailbox="main")
    warned = message(text="Click here: https://acme.example")
    assert (await check.check(warned, context)).action == VerdictAction.ALLOW
    assert check.warnings(warned) == ['the phrase "click here", which spam filters punish']
    shortened = message(text="See https://bit.ly/3xYz")
    verdict = await check.check(shortened, context)
    assert verdict.action == VerdictAction.BLOCK
    assert "bit.ly" in verdict.reason

    # In the dry run, a blocked email is named with its reason.
    sequence = ONE_STEP.replace("{{ first_line }}", "see https://bit.ly/3xYz")
    rt.clock = Clock()
    await enrolled(rt, 1, sequence=sequence)
    (item,) = (await explain(rt)).items
    assert item.action == "block"
    assert "shortener bit.ly" in item.reason


async def test_warnings_show_in_the_dry_run_and_the_template_preview(make_settings, make_runtime) -> None:
    rt = await make_runtime(settings_for(make_settings))
    rt.clock = Clock()
    await enrolled(rt, 1, sequence=ONE_STEP.replace("{{ first_line }}", "click here, it is risk-free"))
    (item,) = (await explain(rt)).items
    assert item.action == "send"
    assert item.warnings == [
        'the phrase "risk-free", which spam filters punish',
        'the phrase "click here", which spam filters punish',
    ]
    (lead_id,) = await ready_leads(rt, 1, business_name="Preview Co", email="p@preview.example")
    async with AsyncTestClient(app=create_app(rt)) as client:
        page = await client.get("/templates/new")
        token = re.search(r'"x-csrftoken": "([^"]+)"', page.text).group(1)
        preview = await client.post(
            "/templates/preview",
            data={
                "subject": "WIN A FREE AUDIT",
                "body_text": "Hi, see https://bit.ly/x",
                "lead_id": str(lead_id),
            },
            headers={"HX-Request": "true", "x-csrftoken": token},
        )
        assert 'id="content-warnings"' in preview.text
        assert "a subject in capitals" in preview.text
        assert "the shortener bit.ly" in preview.text
        plain = await client.post(
            "/templates/preview",
            data={"subject": "A question", "body_text": "Hi there", "lead_id": str(lead_id)},
            headers={"HX-Request": "true", "x-csrftoken": token},
        )
        assert 'id="content-warnings"' not in plain.text


def test_send_dry_run_prints_the_warnings(tmp_path: Path) -> None:
    config = tmp_path / "outreach.toml"
    config.write_text(
        CONFIG.format(data=tmp_path / "data") + 'window = "00:00-24:00"\nweekdays_only = false\n'
    )

    async def prepare() -> None:
        rt = await Runtime.open(load_settings(config), load_entry_points=False)
        try:
            await enrolled(rt, 1, sequence=ONE_STEP.replace("{{ first_line }}", "act now"))
        finally:
            await rt.close()

    asyncio.run(prepare())
    result = CliRunner().invoke(cli, ["--config", str(config), "send", "--dry-run"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert 'warning: the phrase "act now", which spam filters punish' in result.output


def test_an_unknown_kind_to_block_is_a_config_problem_naming_the_key(make_settings) -> None:
    from outreach.kernel.config_check import config_problems
    from outreach.kernel.plugins import build_plugin_host

    settings = settings_for(make_settings, reputation={"block": ["shortners"]})
    problems = config_problems(settings, build_plugin_host(settings, load_entry_points=False))
    assert any("plugins.reputation.block" in str(p) for p in problems), problems
