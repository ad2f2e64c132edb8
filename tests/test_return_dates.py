"""Out-of-office return dates: the day/month order of the sender, six months at most,
and days named relative to the message; through the inbound path with the lead's country."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from engine_helpers import ONE_STEP, Clock, enrolled, mailbox, with_legal

from outreach.kernel import InboundMessage
from outreach.kernel.mail.analysis import analyze_message
from outreach.plugins.reply_rules import RuleClassifier
from outreach.plugins.reply_rules.return_date import find_return_date

JUNE_1 = date(2026, 6, 1)
THURSDAY = date(2026, 12, 3)


def test_a_date_that_would_be_next_year_is_read_in_the_other_order() -> None:
    # Day first, 6 May has passed and next May is eleven months off: the fifth of June.
    assert find_return_date("I am back on 06/05.", JUNE_1) == date(2026, 6, 5)
    assert find_return_date("Zurück am 06.05.", JUNE_1) == date(2026, 6, 5)


@pytest.mark.parametrize(
    ("text", "country", "expected"),
    [
        ("back on 05/06", "US", date(2026, 5, 6)),
        ("back on 05/06", "GB", date(2026, 6, 5)),
        ("back on 05/06", None, date(2026, 6, 5)),
        ("zurück am 05.06.", "US", date(2026, 6, 5)),  # German is written day first wherever
        ("de retour le 05/06", None, date(2026, 6, 5)),
        ("volto em 5 de junho", None, date(2026, 6, 5)),
        ("wracam 5 czerwca", None, date(2026, 6, 5)),
        ("tillbaka den 5 juni", None, date(2026, 6, 5)),
    ],
)
def test_the_order_follows_the_language_and_the_senders_country(text, country, expected) -> None:
    assert find_return_date(text, date(2026, 5, 1), country=country) == expected


def test_without_a_country_a_north_american_time_zone_says_month_first() -> None:
    eastern = datetime(2026, 5, 1, 9, 0, tzinfo=timezone(timedelta(hours=-5)))
    paris = datetime(2026, 5, 1, 9, 0, tzinfo=timezone(timedelta(hours=2)))
    assert find_return_date("back on 05/06", eastern) == date(2026, 5, 6)
    assert find_return_date("back on 05/06", paris) == date(2026, 6, 5)


@pytest.mark.parametrize(
    "text",
    ["Back on 2027-09-01.", "Back on May 30.", "Returning 3 January 2026.", "back on 13/13"],
)
def test_a_return_is_never_in_the_past_or_more_than_six_months_ahead(text) -> None:
    assert find_return_date(text, JUNE_1) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'll be back in the office tomorrow.", date(2026, 12, 4)),
        ("Ich bin ab morgen wieder erreichbar.", date(2026, 12, 4)),
        ("I am back next Monday.", date(2026, 12, 7)),
        ("Out until Friday.", date(2026, 12, 4)),
        ("Back on Thursday", date(2026, 12, 10)),  # said on a Thursday: the next one
        ("Bis Montag nicht im Büro.", date(2026, 12, 7)),
        ("De retour lundi.", date(2026, 12, 7)),
        ("Out until Monday, January 4", date(2027, 1, 4)),  # a written date beats the weekday
    ],
)
def test_relative_days_are_counted_from_the_day_the_message_came(text, expected) -> None:
    assert find_return_date(text, THURSDAY) == expected


def _out_of_office(email, until: str) -> bytes:
    return (
        f"From: {email.to_address}\r\nTo: {email.from_address}\r\nSubject: Automatic reply: {email.subject}\r\n"
        "Date: Fri, 01 May 2026 09:00:00 +0000\r\n"
        f"Message-ID: <ooo-{email.id}@mail.lead.example>\r\nIn-Reply-To: {email.message_id}\r\n"
        "Auto-Submitted: auto-replied\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"I am out of the office until {until}.\r\n"
    ).encode()


async def test_the_inbound_path_reads_a_numeric_date_in_the_matched_leads_country(
    make_settings, make_runtime
) -> None:
    settings = with_legal(make_settings)(mailboxes=[mailbox()], sending={"rate_limit_per_minute": 0})
    rt = await make_runtime(settings)
    rt.clock = Clock()
    firsts = await enrolled(rt, 2, sequence=ONE_STEP, country_code=lambda i: ["US", "DE"][i])
    assert (await rt.outbox.run_until_idle()).sent == 2
    us, de = [await rt.emails.get(firsts[lead]) for lead in sorted(firsts)]

    dates = {}
    for email in (us, de):
        record = await rt.inbound.process(InboundMessage(raw=_out_of_office(email, "05/06"), source="test"))
        assert (record.email_id, record.category) == (email.id, "out_of_office")
        dates[email.id] = record.return_date
    assert dates == {us.id: "2026-05-06", de.id: "2026-06-05"}


async def test_analysis_alone_reads_the_date_from_the_message_time_zone() -> None:
    class Email:
        id, to_address, from_address, subject, message_id = (
            1,
            "a@b.example",
            "c@d.example",
            "Hi",
            "<x@d.example>",
        )

    raw = _out_of_office(Email, "05/06").replace(b"+0000", b"-0500")
    analysis = await analyze_message(raw, [RuleClassifier(today=lambda: datetime.now(UTC))])
    assert analysis.category.return_date == "2026-05-06"
    german = await analyze_message(raw, [RuleClassifier()], country_code="DE")
    assert german.category.return_date == "2026-06-05"
