"""Bounces, auto-replies and replies written from the RFCs and from the shapes MTAs use,
plus the rule-based categories and return dates."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.kernel import ReplyCategory, ReplyToClassify
from outreach.kernel.mail.analysis import analyze_message, categorize
from outreach.plugins.reply_rules import RuleClassifier
from outreach.plugins.reply_rules.return_date import find_return_date

DSN = b"""\
From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
To: ann@example.com
Subject: Undelivered Mail Returned to Sender
Date: Tue, 24 Nov 2026 10:00:00 +0000
Message-ID: <dsn.1@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain

I could not deliver your message to two recipients.

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: Tue, 24 Nov 2026 09:59:58 +0000

Final-Recipient: rfc822; gone@dentist.example
Action: failed
Status: 5.1.1
Remote-MTA: dns; mail.dentist.example
Diagnostic-Code: smtp; 550 5.1.1 <gone@dentist.example>: Recipient address rejected: User unknown

Final-Recipient: rfc822; full@bakery.example
Action: failed
Status: 5.2.2
Diagnostic-Code: smtp; 552 5.2.2 Mailbox full

Final-Recipient: rfc822; fine@cafe.example
Action: delivered
Status: 2.0.0

--BOUNDARY
Content-Type: message/rfc822

From: Ann Example <ann@example.com>
To: gone@dentist.example
Subject: Hello
Message-ID: <step1.42@outreach.example.com>

Hi there.

--BOUNDARY--
"""

EXIM_DELAY = b"""\
From: Mail Delivery System <Mailer-Daemon@relay.example.org>
To: ann@example.com
Subject: Warning: message 1abc delayed 24 hours
Auto-Submitted: auto-replied

This message was created automatically by mail delivery software.
A message that you sent has not yet been delivered to one or more of its
recipients after more than 24 hours on the queue on relay.example.org.

  slow@far.example
    host mx.far.example [192.0.2.9]: 451 4.4.1 Connection timed out

No action is required on your part. Delivery attempts will continue for
some time, and this warning may be repeated at intervals if the message
remains undelivered. Eventually the mail delivery software will give up,
and when that happens, the message will be returned to you.
"""

OUT_OF_OFFICE_HEADERLESS = b"""\
From: Hans Zahn <hans@praxis.example>
To: ann@example.com
Subject: Abwesenheitsnotiz: Hello
Date: Tue, 24 Nov 2026 10:00:00 +0100

Vielen Dank fuer Ihre Nachricht. Ich bin bis 30. November nicht im Buero und ab dem 1. Dezember wieder erreichbar.
"""


def _reply(body: str, subject: str = "Re: A quick idea for Acme Dental") -> bytes:
    return (
        "From: Dr. Jane <jane@acme-dental.example>\r\nTo: ann@example.com\r\n"
        f"Subject: {subject}\r\nIn-Reply-To: <step1.42@outreach.example.com>\r\n"
        "References: <step1.42@outreach.example.com>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body}\r\n\r\nOn Mon, Nov 23, 2026 at 9:00 AM Ann <ann@example.com> wrote:\r\n> Hi Jane, unsubscribe link below\r\n"
    ).encode()


async def test_rfc3464_dsn_reads_each_failed_recipient_and_skips_delivered_ones() -> None:
    analysis = await analyze_message(DSN)
    assert analysis.kind == "bounce"
    bounce = analysis.bounce
    assert bounce.classification == "mixed"
    assert bounce.original_message_id == "<step1.42@outreach.example.com>"
    found = {r.address: r for r in bounce.recipients}
    assert set(found) == {"gone@dentist.example", "full@bakery.example"}
    assert (found["gone@dentist.example"].hard, found["gone@dentist.example"].reason) == (True, "userunknown")
    assert found["gone@dentist.example"].reply_code == "550"
    assert (found["full@bakery.example"].hard, found["full@bakery.example"].reason) == (False, "mailboxfull")


async def test_a_delay_warning_is_soft() -> None:
    analysis = await analyze_message(EXIM_DELAY)
    assert analysis.kind == "bounce"
    (recipient,) = analysis.bounce.recipients
    assert recipient.address == "slow@far.example"
    assert recipient.hard is False
    assert recipient.status == "4.4.1"


async def test_headerless_german_out_of_office_is_an_auto_reply_with_return_date() -> None:
    analysis = await analyze_message(OUT_OF_OFFICE_HEADERLESS, [RuleClassifier()])
    assert analysis.kind == "auto_reply"
    assert analysis.category.category == "out_of_office"
    assert analysis.category.return_date == "2026-11-30"


async def test_rfc3834_headers_mark_an_auto_reply() -> None:
    raw = b"From: x@y.example\r\nAuto-Submitted: auto-replied\r\nSubject: Re: Hello\r\n\r\nThanks, we got it.\r\n"
    analysis = await analyze_message(raw, [RuleClassifier()])
    assert analysis.kind == "auto_reply"
    assert analysis.auto_reply.subtype == "autoresponder"
    no = b"From: x@y.example\r\nAuto-Submitted: no\r\nSubject: Re: Hello\r\n\r\nSounds good, call me.\r\n"
    assert (await analyze_message(no, [RuleClassifier()])).kind == "reply"


@pytest.mark.parametrize(
    ("body", "category"),
    [
        ("Sounds interesting. Can you send me pricing?", "interested"),
        ("Yes, let's schedule a call next week.", "interested"),
        ("No thanks, we're not interested.", "not_interested"),
        ("We already work with an agency, so no need.", "not_interested"),
        ("Please remove me from your list.", "unsubscribe"),
        ("Stop emailing me.", "unsubscribe"),
        ("I'm not the right person, please contact our office manager.", "wrong_person"),
        ("Dr. Smith has left the practice.", "wrong_person"),
        ("Who is this?", "unknown"),
    ],
)
async def test_reply_categories(body: str, category: str) -> None:
    analysis = await analyze_message(_reply(body), [RuleClassifier()])
    assert analysis.kind == "reply"
    assert analysis.reply_text == body
    assert analysis.category.category == category
    assert analysis.category.classifier == "rules"


async def test_quoted_text_does_not_decide_the_category() -> None:
    # The quote says "unsubscribe"; the person did not.
    analysis = await analyze_message(_reply("Tell me more!"), [RuleClassifier()])
    assert analysis.category.category == "interested"


async def test_the_most_confident_classifier_wins() -> None:
    class Smart:
        name = "smart"

        async def classify(self, reply: ReplyToClassify) -> ReplyCategory | None:
            return ReplyCategory(category="interested", confidence=0.99)

    class Abstains:
        name = "quiet"

        async def classify(self, reply: ReplyToClassify) -> ReplyCategory | None:
            return None

    reply = ReplyToClassify(subject="Re: hi", text="Who is this?")
    chosen = await categorize(reply, [RuleClassifier(), Abstains(), Smart()])
    assert (chosen.category, chosen.classifier) == ("interested", "smart")
    assert (await categorize(reply, [])).category == "unknown"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I will be back on May 5th.", date(2027, 5, 5)),
        ("Returning 3 December 2026.", date(2026, 12, 3)),
        ("Out until Monday, January 4", date(2027, 1, 4)),
        ("back on 2026-12-01", date(2026, 12, 1)),
        ("zurück am 12. Dezember", date(2026, 12, 12)),
        ("de retour le 2 décembre", date(2026, 12, 2)),
        ("back on 12/28", date(2026, 12, 28)),
        ("I am away.", None),
    ],
)
def test_return_dates(text: str, expected: date | None) -> None:
    assert find_return_date(text, date(2026, 11, 26)) == expected


def test_mail_classify_cli(tmp_path) -> None:
    message = tmp_path / "dsn.eml"
    message.write_bytes(DSN)
    reply = tmp_path / "reply.eml"
    reply.write_bytes(_reply("Not interested, thanks."))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "outreach.web.cli",
            "--data-dir",
            str(tmp_path / "d"),
            "mail",
            "classify",
            str(message),
            str(reply),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    bounce, answer = json.loads(result.stdout)
    assert bounce["kind"] == "bounce"
    assert bounce["bounce"]["recipients"][0] == {
        "address": "gone@dentist.example",
        "status": "5.1.1",
        "reply_code": "550",
        "class": "hard",
        "reason": "userunknown",
        "action": "failed",
    }
    assert answer["kind"] == "reply"
    assert answer["category"] == "not_interested"
    assert answer["in_reply_to"] == "<step1.42@outreach.example.com>"


@settings(max_examples=150, deadline=None)
@given(
    raw=st.binary(max_size=3000) | st.text(max_size=3000).map(lambda t: t.encode("utf-8", "surrogatepass"))
)
async def test_analysis_never_raises_on_arbitrary_input(raw: bytes) -> None:
    analysis = await analyze_message(raw, [RuleClassifier()])
    assert analysis.kind in ("bounce", "auto_reply", "reply")


@settings(max_examples=100, deadline=None)
@given(
    headers=st.lists(
        st.tuples(
            st.sampled_from(
                ["From", "Subject", "Content-Type", "Auto-Submitted", "Final-Recipient", "Status"]
            ),
            st.text(
                alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=60
            ),
        ),
        max_size=6,
    ),
    body=st.text(max_size=500),
)
async def test_analysis_never_raises_on_header_soup(headers, body) -> None:
    raw = "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n" + body
    analysis = await analyze_message(raw.encode("utf-8", "surrogatepass"), [RuleClassifier()])
    assert analysis.kind in ("bounce", "auto_reply", "reply")
