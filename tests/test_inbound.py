"""Inbound mail end to end against a real Dovecot on loopback: replies, auto-replies and bounces
APPENDed to a folder are read by the IMAP reply source, matched to the emails outreach sent, and
move those emails, the leads' sequences and the suppression list (with audit rows)."""

from __future__ import annotations

import asyncio
import imaplib
import time
from datetime import UTC, datetime, timedelta

import pytest
from engine_helpers import Clock, enrolled, mailbox
from inbound_helpers import corpus, dsn, reply, vacation
from support.dovecot import ImapServer, running_dovecot

from outreach.kernel import InboundMessage
from outreach.kernel.services import audit, inbound
from outreach.kernel.store.tables import AuditRow, EnrollmentRow, InboundMessageRow, SuppressionRow

#: Leads whose addresses are those of the corpus messages, so real captures match by address.
CORPUS_ADDRESSES = {6: "userunknown@example.co.jp", 7: "kijitora@example.net"}


@pytest.fixture(scope="module")
def imap_server() -> ImapServer:
    with running_dovecot() as server:
        yield server


def append(server: ImapServer, folder: str, *messages: bytes) -> None:
    client = imaplib.IMAP4(server.host, server.port)
    client.login(server.username, server.password)
    client.create(folder)
    for message in messages:
        client.append(folder, None, None, message)
    client.logout()


def settings_for(make_settings, server: ImapServer, monkeypatch, folder: str, wait: float = 1, **tracking):
    monkeypatch.setenv("TEST_IMAP_PASSWORD", server.password)
    return make_settings(
        mailboxes=[mailbox()],
        sending={"rate_limit_per_minute": 0},
        tracking={"soft_bounce_limit": 2, **tracking},
        plugins={
            "imap": {
                "accounts": [
                    {
                        "name": "main",
                        "host": server.host,
                        "port": server.port,
                        "tls": "none",
                        "username": server.username,
                        "password": "env:TEST_IMAP_PASSWORD",
                        "folder": folder,
                        "poll_seconds": wait,
                    }
                ]
            }
        },
    )


async def sent_emails(rt, count: int) -> list:
    """``count`` leads enrolled and their first emails sent (by the outbox sender); the emails."""
    firsts = await enrolled(rt, count, email=lambda i: CORPUS_ADDRESSES.get(i, f"owner{i}@lead{i}.example"))
    assert (await rt.outbox.run_until_idle()).sent == count
    return [await rt.emails.get(firsts[lead]) for lead in sorted(firsts)]


async def test_replies_auto_replies_and_bounces_move_the_right_emails(
    imap_server, make_settings, make_runtime, monkeypatch
) -> None:
    rt = await make_runtime(settings_for(make_settings, imap_server, monkeypatch, "Everything"))
    clock = Clock()
    rt.clock = clock
    emails = await sent_emails(rt, 9)
    interested = reply(emails[0], "Yes, I'm interested. Could you call me on Tuesday?")
    append(
        imap_server,
        "Everything",
        interested,
        # From a colleague's address, threaded only through References.
        reply(
            emails[1], "Please remove me from your list.", sender="boss@lead1.example", threaded="references"
        ),
        vacation(emails[2], "December 14, 2026"),
        dsn(emails[3], status="5.1.1", diagnostic="550 5.1.1 <x>: Recipient address rejected: User unknown"),
        dsn(emails[4], status="4.2.2", diagnostic="452 4.2.2 Mailbox full", action="delayed"),
        dsn(emails[4], status="4.2.2", diagnostic="452 4.2.2 Mailbox full", action="failed"),
        corpus("bounces/sisimai__lhost-postfix-02.eml"),  # to userunknown@example.co.jp, lead 6
        corpus("replies/sisimai__rfc3834-01.eml"),  # from kijitora@example.net, lead 7
        corpus("replies/talon__gmail.eml"),  # nobody we wrote to
        interested,  # the same message again
    )

    result = await rt.poller.poll_once()
    assert (result.read, result.processed, result.skipped, result.failed) == (10, 9, 1, {})

    states = [(await rt.emails.get(e.id)) for e in emails]
    assert [e.state for e in states] == [
        "categorized",  # interested
        "categorized",  # unsubscribe request
        "delivered",  # out of office: an automatic reply proves delivery
        "bounced",  # hard
        "bounced",  # soft twice = the limit
        "sent",  # nothing came back
        "bounced",  # the corpus Postfix bounce
        "delivered",  # the corpus vacation notice
        "sent",
    ]
    assert [states[0].category, states[1].category] == ["interested", "unsubscribe"]

    rows = {
        r["email"]: r for r in await InboundMessageRow.select().where(InboundMessageRow.email.is_not_null())
    }
    assert rows[emails[0].id]["matched_by"] == "in_reply_to"
    assert rows[emails[1].id]["matched_by"] == "references"
    assert rows[emails[2].id]["return_date"] == "2026-12-14"
    assert rows[emails[3].id]["matched_by"] == "bounce"
    assert rows[emails[3].id]["bounce_class"] == "hard"
    assert rows[emails[6].id]["matched_by"] == "address"
    assert rows[emails[7].id]["category"] == "out_of_office"
    unmatched = await InboundMessageRow.select().where(InboundMessageRow.email.is_null())
    assert [(r["kind"], r["category"]) for r in unmatched] == [("reply", "unknown")]

    suppressed = {s.email: s.reason for s in (await rt.suppressions.list()).items}
    assert suppressed == {
        "owner1@lead1.example": "unsubscribed",
        "boss@lead1.example": "unsubscribed",
        "owner3@lead3.example": "bounced",
        "owner4@lead4.example": "bounced",
        "userunknown@example.co.jp": "bounced",
    }

    enrollments = {r["lead"]: r for r in await EnrollmentRow.select()}
    lead_ids = [e.lead_id for e in emails]
    for index in (0, 1, 3, 4, 6):
        assert enrollments[lead_ids[index]]["state"] == "stopped", index
    assert enrollments[lead_ids[2]]["next_due_at"] == datetime(2026, 12, 14, tzinfo=UTC)
    assert enrollments[lead_ids[5]]["state"] == "active"

    # Every change is audited with the inbound actor.
    trail = await audit.trail("email", emails[0].id)
    assert [(t.action, t.actor) for t in trail[-2:]] == [
        ("transition:sent->replied", "system:inbound"),
        ("transition:replied->categorized", "system:inbound"),
    ]
    assert await AuditRow.count().where((AuditRow.entity == "inbound") & (AuditRow.action == "received")) == 9

    # Two business days on, only the leads that did not answer get their follow-up;
    # the one out of office waits for the return date.
    clock.advance(days=3)
    stats = await rt.outbox.run_until_idle()
    followed = {e.lead_id for e in (await rt.emails.list(per_page=100)).items if e.step_number == 2}
    assert followed == {lead_ids[5], lead_ids[7], lead_ids[8]}
    assert stats.sent == 3


async def test_a_message_read_twice_after_a_uidvalidity_change_is_processed_once(
    imap_server, make_settings, make_runtime, monkeypatch
) -> None:
    rt = await make_runtime(settings_for(make_settings, imap_server, monkeypatch, "Twice"))
    rt.clock = Clock()
    (email,) = await sent_emails(rt, 1)
    append(imap_server, "Twice", reply(email, "Not interested, thanks."))
    assert (await rt.poller.poll_once()).processed == 1
    await rt.plugins.context.save_state("imap", "main:Twice", {"uidvalidity": 1, "last_uid": 0})
    again = await rt.poller.poll_once()
    assert (again.read, again.processed, again.skipped) == (1, 0, 1)
    assert await InboundMessageRow.count() == 1
    assert (await rt.emails.get(email.id)).category == "not_interested"


async def test_the_background_poller_waits_with_idle_and_acts_on_new_mail(
    imap_server, make_settings, make_runtime, monkeypatch
) -> None:
    # Without IDLE nothing would be read again for 30 seconds.
    rt = await make_runtime(
        settings_for(make_settings, imap_server, monkeypatch, "Idle", wait=30, poll_seconds=30)
    )
    rt.clock = Clock(datetime.now(UTC))
    (email,) = await sent_emails(rt, 1)
    append(imap_server, "Idle")
    rt.poller.start()
    try:
        await asyncio.sleep(1.0)  # the first read found nothing; the source now waits in IDLE
        started = time.monotonic()
        await asyncio.to_thread(append, imap_server, "Idle", reply(email, "Sounds good, let's talk."))
        while (await rt.emails.get(email.id)).state != "categorized":
            assert time.monotonic() - started < 10, "the reply was not picked up"
            await asyncio.sleep(0.1)
    finally:
        await rt.poller.stop()
    assert (await rt.emails.get(email.id)).category == "interested"


async def test_a_message_whose_effects_fail_is_kept_and_finished_later(
    make_settings, make_runtime, monkeypatch
) -> None:
    rt = await make_runtime(make_settings(mailboxes=[mailbox()], sending={"rate_limit_per_minute": 0}))
    rt.clock = Clock()
    (email,) = await sent_emails(rt, 1)

    async def broken(rt, record):
        await rt.suppressions.add("half@done.example", actor="test")  # undone with the rest
        raise RuntimeError("a bug in an effect")

    monkeypatch.setattr(inbound, "apply_effects", broken)
    raw = dsn(email, status="5.1.1", diagnostic="550 5.1.1 User unknown")
    record = await rt.inbound.process(InboundMessage(raw=raw, source="test"))
    assert record is not None
    assert not record.applied
    monkeypatch.undo()
    assert (await rt.emails.get(email.id)).state == "sent"
    assert await SuppressionRow.count() == 0
    # Read again, it is known; the poller finishes it once the effects work.
    assert await rt.inbound.process(InboundMessage(raw=raw, source="test")) is None
    assert await rt.inbound.finish_interrupted() == 0  # not before it had time to be a failure
    await InboundMessageRow.update(
        {InboundMessageRow.created_at: datetime.now(UTC) - timedelta(minutes=5)}, force=True
    )
    assert await rt.inbound.finish_interrupted() == 1
    assert (await rt.emails.get(email.id)).state == "bounced"
    assert await SuppressionRow.count() == 1
    assert (await rt.inbound.get(record.id)).applied
    assert await rt.inbound.finish_interrupted() == 0
