"""The Gmail account's inbox as a reply source, against the local Gmail API server the sender's tests
use: messages listed with a query cursor, fetched raw, handed over once, matched and acted on."""

from __future__ import annotations

import time

import pytest
from engine_helpers import Clock, enrolled, mailbox, with_legal
from inbound_helpers import dsn, reply
from support.fake_google import gmail_sender_settings, running_google

from outreach.kernel.store.tables import InboundMessageRow


@pytest.fixture
def make_settings(make_settings):
    return with_legal(make_settings)


@pytest.fixture
def google():
    with running_google() as state:
        yield state


def gmail_settings(make_settings, google, **gmail):
    return make_settings(mailboxes=[mailbox()], **gmail_sender_settings(google, gmail=gmail))


async def test_the_inbox_is_read_once_with_a_query_cursor(google, make_settings, make_runtime) -> None:
    google.page_size = 2
    rt = await make_runtime(gmail_settings(make_settings, google))
    rt.clock = Clock()
    assert rt.plugins.reply_sources.names() == ["gmail:main"]
    firsts = await enrolled(rt, 3)
    assert (await rt.outbox.run_until_idle()).sent == 3
    emails = [await rt.emails.get(firsts[lead]) for lead in sorted(firsts)]
    now = time.time()
    google.deliver(
        b"From: old@news.example\r\nSubject: before the cursor\r\n\r\nold\r\n", at=now - 30 * 86400
    )
    google.deliver(reply(emails[0], "Yes please, tell me more."), at=now - 60)
    google.deliver(dsn(emails[1], status="5.1.1", diagnostic="550 5.1.1 No such user"), at=now - 30)
    google.deliver(reply(emails[2], "We are not interested, thank you."), at=now - 10)

    result = await rt.poller.poll_once()
    assert (result.read, result.processed, result.failed) == (3, 3, {})
    assert [(await rt.emails.get(e.id)).state for e in emails] == ["categorized", "bounced", "categorized"]
    assert [(await rt.emails.get(e.id)).category for e in (emails[0], emails[2])] == [
        "interested",
        "not_interested",
    ]
    assert google.fetched == ["in-0002", "in-0003", "in-0004"]  # oldest first, the old one never
    assert all(q.startswith("in:inbox after:") for q in google.inbox_queries)
    rows = await InboundMessageRow.select(InboundMessageRow.source, InboundMessageRow.uid)
    assert sorted(r["uid"] for r in rows) == ["in-0002", "in-0003", "in-0004"]
    assert {r["source"] for r in rows} == {"gmail:main"}

    # Nothing new: listed again, nothing fetched again, even by a fresh process.
    assert (await rt.poller.poll_once()).read == 0
    again = await make_runtime(rt.settings)
    assert (await again.poller.poll_once()).read == 0
    assert len(google.fetched) == 3

    google.deliver(reply(emails[2], "Actually, call me next week."), at=time.time())
    later = await rt.poller.poll_once()
    assert (later.read, later.processed) == (1, 1)
    assert google.fetched[-1] == "in-0005"


async def test_inbound_can_be_turned_off_per_account(google, make_settings, make_runtime) -> None:
    rt = await make_runtime(gmail_settings(make_settings, google, inbound=False))
    assert rt.plugins.reply_sources.names() == []
    assert "gmail" in rt.plugins.senders


async def test_a_refused_token_is_reported_and_the_other_sources_keep_going(
    google, make_settings, make_runtime, monkeypatch
) -> None:
    rt = await make_runtime(gmail_settings(make_settings, google))
    monkeypatch.setenv("GMAIL_REFRESH", "revoked")
    result = await rt.poller.poll_once()
    assert "authorize the account again" in result.failed["gmail:main"]
