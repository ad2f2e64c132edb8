"""The outreach engine in one process: readiness, enrollment, follow-ups and the sending policy."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from engine_helpers import ONE_STEP, SEQUENCE, Clock, enrolled, mailbox, ready_leads

from outreach.kernel import (
    DiscoveredBusiness,
)
from outreach.kernel.services import audit
from outreach.kernel.services.outbox.dry_run import explain
from outreach.kernel.services.outbox.policy import add_delay, window_opening
from outreach.kernel.states import EmailState
from outreach.kernel.store.tables import EmailRow, LeadRow

# The store's behaviour, on SQLite and on PostgreSQL alike.
pytestmark = pytest.mark.both_engines


def settings_for(make_settings, backend: str = "outbox", mailboxes=None, **sending):
    return make_settings(
        sender={"backend": backend},
        mailboxes=mailboxes or [mailbox()],
        sending={"rate_limit_per_minute": 0, **sending},
    )


# -- readiness and enrollment ----------------------------------------------------------------


async def test_ready_takes_only_approved_leads_with_an_address(runtime) -> None:
    with_email, _ = await runtime.leads.upsert_discovered(
        DiscoveredBusiness(business_name="Has mail", email="a@a.example"), "test"
    )
    without, _ = await runtime.leads.upsert_discovered(DiscoveredBusiness(business_name="No mail"), "test")
    pending, _ = await runtime.leads.upsert_discovered(
        DiscoveredBusiness(business_name="Pending", email="p@p.example"), "test"
    )
    await LeadRow.update({LeadRow.lifecycle_state: "approved"}).where(
        LeadRow.id.is_in([with_email.id, without.id])
    )
    await LeadRow.update({LeadRow.lifecycle_state: "pending_review"}).where(LeadRow.id == pending.id)
    result = await runtime.enrollment.mark_ready(None, actor="test")
    assert result.changed == [with_email.id]
    assert "no email address" in result.skipped[without.id]
    assert (await runtime.leads.get(without.id)).lifecycle_state == "approved"
    # Undoing the review is still possible while a lead is only approved.
    assert (
        await runtime.leads.transition(without.id, "pending_review", actor="test")
    ).lifecycle_state == "pending_review"
    explicit = await runtime.enrollment.mark_ready([pending.id, 999], actor="test")
    assert explicit.skipped == {pending.id: "is pending_review, not approved", 999: "no such lead"}


async def test_two_enrollments_at_once_enroll_each_lead_once_across_chunks(runtime) -> None:
    await runtime.sequences.load_text(SEQUENCE, actor="test")
    ids = await ready_leads(runtime, 450)  # three chunks of at most 200, each its own transaction
    first, second = await asyncio.gather(
        runtime.enrollment.enroll("intro", ids, actor="a"),
        runtime.enrollment.enroll("intro", list(reversed(ids)), actor="b"),
    )
    assert sorted([*first.enrolled, *second.enrolled]) == ids
    assert set(first.enrolled).isdisjoint(second.enrolled)
    assert sorted([*first.skipped, *second.skipped]) == ids
    assert await EmailRow.count() == 450
    rows = await EmailRow.select(EmailRow.lead).where(EmailRow.step_number == 1)
    assert Counter(row["lead"] for row in rows) == Counter(ids)


async def test_enrollment_queues_step_one_rendered_once_and_never_twice(runtime) -> None:
    await runtime.sequences.load_text(SEQUENCE, actor="test")
    ids = await ready_leads(runtime, 3)
    first = await runtime.enrollment.enroll("intro", ids[:2], actor="test")
    assert sorted(first.enrolled) == ids[:2]
    again = await runtime.enrollment.enroll("intro", ids, actor="test")
    assert list(again.enrolled) == [ids[2]]
    assert again.skipped == {i: "is already enrolled in sequence 'intro'" for i in ids[:2]}
    queued = await runtime.emails.get(first.enrolled[ids[0]])
    assert queued.state == "queued"
    assert queued.subject == "A question for Business 0"
    assert queued.message_id.endswith("@main.example>") or queued.message_id.endswith("@localhost>")
    assert "Hi there," in queued.body_text
    # The rendered text is what will be sent: later changes to the lead do not alter it.
    await runtime.leads.update_fields(ids[0], {"business_name": "Renamed"}, actor="test")
    assert (await runtime.emails.get(queued.id)).subject == "A question for Business 0"
    row = await EmailRow.select(EmailRow.dedupe_key).where(EmailRow.id == queued.id).first()
    assert row["dedupe_key"] == f"{ids[0]}:1:1"
    with pytest.raises(Exception, match=r"(?i)unique"):
        await EmailRow.insert(EmailRow(lead=ids[0], dedupe_key=row["dedupe_key"]))
    not_ready = await runtime.enrollment.enroll("intro", [999], actor="test")
    assert not_ready.skipped == {999: "no such lead"}


async def test_leads_are_spread_across_mailboxes_and_follow_ups_keep_theirs(
    make_settings, make_runtime
) -> None:
    rt = await make_runtime(settings_for(make_settings, mailboxes=[mailbox("one"), mailbox("two")]))
    clock = Clock()
    rt.clock = clock
    firsts = await enrolled(rt, 6)
    boxes = Counter([(await rt.emails.get(i)).mailbox for i in firsts.values()])
    assert boxes == {"one": 3, "two": 3}
    await rt.outbox.run_until_idle()
    clock.advance(days=3)
    await rt.outbox.run_until_idle()
    for lead_id in firsts:
        emails = await rt.emails.for_lead(lead_id)
        assert [e.step_number for e in emails] == [1, 2]
        assert emails[1].mailbox == emails[0].mailbox
        assert emails[1].from_address == emails[0].from_address


async def test_follow_ups_wait_for_business_days_and_stop_when_the_lead_replies(
    make_settings, make_runtime
) -> None:
    rt = await make_runtime(settings_for(make_settings))
    friday = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    clock = Clock(friday)
    rt.clock = clock
    firsts = await enrolled(rt, 2, city="Springfield")
    await rt.outbox.run_until_idle()
    (a_lead, a_first), (b_lead, _) = sorted(firsts.items())
    # Friday + 2 business days is Tuesday: nothing on Monday.
    clock.now = friday + timedelta(days=3)
    assert (await rt.outbox.run_until_idle()).followups == 0
    # Lead A replied over the weekend.
    await rt.emails.transition(a_first, EmailState.REPLIED, actor="test")
    clock.now = friday + timedelta(days=4, hours=1)
    stats = await rt.outbox.run_until_idle()
    assert stats.followups == 1
    assert stats.sent == 1
    assert [e.step_number for e in await rt.emails.for_lead(a_lead)] == [1]
    (enrollment,) = await rt.enrollment.for_lead(a_lead)
    assert enrollment.state == "stopped"
    assert "replied" in enrollment.stop_reason
    b_emails = await rt.emails.for_lead(b_lead)
    assert [e.state for e in b_emails] == ["sent", "sent"]
    assert (await rt.enrollment.for_lead(b_lead))[0].state == "finished"


async def test_stop_cancels_a_queued_follow_up_and_audits_it(make_settings, make_runtime) -> None:
    rt = await make_runtime(settings_for(make_settings, mailboxes=[mailbox(window="09:00-10:00")]))
    clock = Clock(datetime(2026, 11, 23, 9, 30, tzinfo=UTC))
    rt.clock = clock
    firsts = await enrolled(rt, 1, country_code="GB")
    await rt.outbox.run_until_idle()
    clock.advance(days=2, hours=2)  # outside the window: the follow-up is queued, then deferred
    await rt.outbox.run_until_idle()
    (lead_id,) = firsts
    follow = (await rt.emails.for_lead(lead_id))[1]
    assert follow.state == "queued"
    assert follow.due_at > clock.now
    cancelled = await rt.enrollment.stop(lead_id, "the lead unsubscribed", actor="system:tracking")
    assert cancelled == [follow.id]
    follow = await rt.emails.get(follow.id)
    assert follow.state == "cancelled"
    trail = await audit.trail("email", follow.id)
    assert trail[-1].action == "transition:queued->cancelled"
    assert trail[-1].actor == "system:tracking"


# -- policy ------------------------------------------------------------------------------------


def test_window_and_business_day_arithmetic() -> None:
    monday_noon_utc = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert window_opening(monday_noon_utc, "Europe/Paris", "09:00-17:00", True) is None
    tokyo = window_opening(monday_noon_utc, "Asia/Tokyo", "09:00-17:00", True)  # 21:00 in Tokyo
    assert tokyo == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert window_opening(saturday, "UTC", "09:00-17:00", True) == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert window_opening(saturday, "UTC", "09:00-17:00", False) is None
    friday = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    assert add_delay(friday, 1, True, "UTC") == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert add_delay(friday, 1, False, "UTC") == datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
    assert add_delay(friday, 0.5, True, "UTC") == datetime(2026, 11, 30, 4, 0, tzinfo=UTC)


async def test_the_window_is_the_recipients_from_coordinates_then_country(
    make_settings, make_runtime
) -> None:
    rt = await make_runtime(
        settings_for(
            make_settings,
            mailboxes=[mailbox(window="09:00-17:00", weekdays_only=True, timezone="Europe/London")],
        )
    )
    clock = Clock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))  # Monday noon in London
    rt.clock = clock
    await rt.sequences.load_text(SEQUENCE, actor="test")
    tokyo = await ready_leads(rt, 1, latitude=35.68, longitude=139.69, email="t@tokyo.example")
    paris = await ready_leads(rt, 1, business_name="Paris shop", country_code="FR", email="p@paris.example")
    local = await ready_leads(rt, 1, business_name="Somewhere", email="s@somewhere.example")
    result = await rt.enrollment.enroll("intro", tokyo + paris + local, actor="test")
    stats = await rt.outbox.run_until_idle()
    assert stats.sent == 2
    assert stats.deferred == 1
    emails = {lead: await rt.emails.get(email_id) for lead, email_id in result.enrolled.items()}
    assert emails[tokyo[0]].recipient_timezone == "Asia/Tokyo"
    assert emails[tokyo[0]].state == "queued"
    assert emails[tokyo[0]].due_at == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo
    assert "outside the sending window" in emails[tokyo[0]].last_error
    assert emails[paris[0]].recipient_timezone == "Europe/Paris"
    assert emails[paris[0]].state == "sent"
    assert emails[local[0]].recipient_timezone == "Europe/London"
    assert emails[local[0]].state == "sent"


async def test_daily_cap_with_ramp_up_counts_the_mailboxs_day(make_settings, make_runtime) -> None:
    rt = await make_runtime(
        settings_for(
            make_settings, mailboxes=[mailbox(daily_cap=3, ramp_up_start=1, ramp_up_step=1, timezone="UTC")]
        )
    )
    clock = Clock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    rt.clock = clock
    await enrolled(rt, 8, sequence=ONE_STEP)
    sent_per_day = []
    for _ in range(4):
        sent_per_day.append((await rt.outbox.run_until_idle()).sent)
        clock.advance(days=1)
    assert sent_per_day == [1, 2, 3, 2]  # ramping 1, 2, then the cap of 3, then what is left
    (status,) = await rt.mailboxes.status()
    assert status.cap_today == 3


async def test_minimum_gap_with_jitter_and_the_global_rate_limit(make_settings, make_runtime) -> None:
    rt = await make_runtime(
        settings_for(
            make_settings, mailboxes=[mailbox(min_gap_seconds=90, gap_jitter=0.5)], rate_limit_per_minute=0
        )
    )
    clock = Clock()
    rt.clock = clock
    await enrolled(rt, 3)
    assert (await rt.outbox.run_until_idle()).sent == 1
    (status,) = await rt.mailboxes.status()
    gap = (status.next_send_at - clock.now).total_seconds()
    assert 90 <= gap <= 135
    clock.advance(seconds=60)
    assert (await rt.outbox.run_until_idle()).sent == 0
    report = await explain(rt)
    assert any("waits its gap" in limit for limit in report.limits)
    clock.advance(seconds=80)
    assert (await rt.outbox.run_until_idle()).sent == 1

    limited = await make_runtime(
        make_settings(
            data_dir=str(rt.settings.data_path / "limited"),
            mailboxes=[mailbox("a"), mailbox("b")],
            sending={"rate_limit_per_minute": 3},
        )
    )
    limited.clock = clock
    await enrolled(limited, 7)
    assert (await limited.outbox.run_until_idle()).sent == 3
    report = await explain(limited)
    assert "global rate limit" in report.limits[0]
    clock.advance(seconds=61)
    assert (await limited.outbox.run_until_idle()).sent == 3
