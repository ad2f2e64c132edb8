"""The gmail sender against a local HTTP server speaking the OAuth token endpoint and the Gmail
API's messages send/list JSON; the raw message is decoded and checked as Gmail would read it."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from engine_helpers import Clock, enrolled, mailbox, with_legal
from support.fake_google import gmail_sender_settings, running_google

from outreach.kernel.states import EmailState
from outreach.kernel.store.tables import EmailRow


@pytest.fixture
def make_settings(make_settings):
    """Settings a sender of real mail may send with (the compliance checks hold mail back without them)."""
    return with_legal(make_settings)


@pytest.fixture
def google():
    with running_google() as state:
        yield state


def gmail_settings(make_settings, google, **sending):
    return make_settings(
        mailboxes=[mailbox()],
        **gmail_sender_settings(google, sending={"reconcile_after_seconds": 0, **sending}),
    )


async def test_send_raw_message_with_refresh_token_and_thread_follow_ups(
    google, make_settings, make_runtime
) -> None:
    rt = await make_runtime(gmail_settings(make_settings, google))
    clock = Clock()
    rt.clock = clock
    firsts = await enrolled(rt, 1)
    assert (await rt.outbox.run_until_idle()).sent == 1
    assert google.token_requests[0]["grant_type"] == ["refresh_token"]
    assert google.token_requests[0]["client_id"] == ["client-1"]
    first = await rt.emails.get(next(iter(firsts.values())))
    sent = google.sent[0]
    assert "threadId" not in sent["payload"]
    message = sent["message"]
    assert message["Message-ID"] == first.message_id
    assert message["To"] == "owner0@lead0.example"
    assert message["Subject"] == "A question for Business 0"
    assert message.get_content_type() == "multipart/alternative"
    assert first.provider_message_id == "msg-1"
    assert first.provider_thread_id == "thread-1"

    clock.advance(days=3)
    assert (await rt.outbox.run_until_idle()).sent == 1
    follow = google.sent[1]
    assert follow["payload"]["threadId"] == "thread-1"
    assert follow["message"]["In-Reply-To"] == first.message_id
    assert follow["message"]["Subject"] == "Re: A question for Business 0"
    assert len(google.token_requests) == 1  # the access token was reused


async def test_an_expired_token_is_renewed_once(google, make_settings, make_runtime) -> None:
    google.expire_first_token = True
    rt = await make_runtime(gmail_settings(make_settings, google))
    await enrolled(rt, 1)
    assert (await rt.outbox.run_until_idle()).sent == 1
    assert len(google.token_requests) == 2


async def test_api_errors_map_to_retry_failure_and_unavailable(google, make_settings, make_runtime) -> None:
    rt = await make_runtime(gmail_settings(make_settings, google, retry_base_seconds=3600))
    firsts = await enrolled(rt, 2)
    first_id, second_id = sorted(firsts.values())
    google.fail_next = [
        (429, {"code": 429, "message": "Too many", "errors": [{"reason": "rateLimitExceeded"}]}),
        (400, {"code": 400, "message": "Invalid To header", "errors": [{"reason": "invalidArgument"}]}),
    ]
    await rt.outbox.run_until_idle()
    retried, failed = await rt.emails.get(first_id), await rt.emails.get(second_id)
    assert retried.state == "queued"
    assert "429" in retried.last_error
    assert failed.state == "failed"
    assert "Invalid To header" in failed.last_error

    os.environ["GMAIL_REFRESH"] = "revoked"
    rt.plugins.senders.get("gmail")._accounts.clear()
    await EmailRow.update({EmailRow.due_at: rt.clock()}).where(EmailRow.id == first_id)
    await rt.outbox.run_until_idle()
    still = await rt.emails.get(first_id)
    assert still.state == "queued"
    assert "authorize the account again" in still.last_error
    assert still.attempts == 1  # a refused token is the account's problem, not the email's


async def test_reconciliation_settles_interrupted_sends_by_rfc822msgid(
    google, make_settings, make_runtime
) -> None:
    rt = await make_runtime(gmail_settings(make_settings, google))
    firsts = await enrolled(rt, 2)
    accepted_id, lost_id = sorted(firsts.values())
    accepted, lost = await rt.emails.get(accepted_id), await rt.emails.get(lost_id)
    # As a worker that died: both claimed, Gmail accepted the first, the second never left.
    google.known[accepted.message_id.strip("<>")] = {"id": "msg-77", "threadId": "thread-77"}
    await EmailRow.update(
        {
            EmailRow.state: EmailState.SENDING,
            EmailRow.claimed_by: "ghost-host:1:dead",
            EmailRow.claimed_at: rt.clock() - timedelta(hours=1),
            EmailRow.sender_backend: "gmail",
        }
    ).where(EmailRow.id.is_in([accepted_id, lost_id]))
    stats = await rt.outbox.run_until_idle()
    assert stats.reconciled == 2
    assert f"rfc822msgid:{accepted.message_id.strip('<>')}" in google.searches
    settled = await rt.emails.get(accepted_id)
    assert settled.state == "sent"
    assert settled.provider_message_id == "msg-77"
    resent = await rt.emails.get(lost_id)
    assert resent.state == "sent"
    assert [s["message"]["Message-ID"] for s in google.sent] == [lost.message_id]
