"""The table of words and codes that decide why a delivery failed, one test per row, and
the address forms, success reports and newsletters that must not be read as failures."""

from __future__ import annotations

import pytest

from outreach.kernel.mail.addresses import plain_address
from outreach.kernel.mail.analysis import analyze_message
from outreach.kernel.mail.bounce_reasons import HARD_REASONS, STATUS_RULES, TEXT_RULES, is_hard, reason_for


@pytest.mark.parametrize("rule", TEXT_RULES, ids=[f"{r.reason}:{r.example[:40]}" for r in TEXT_RULES])
def test_each_text_rule_gives_its_reason_for_the_server_phrase_it_was_written_for(rule) -> None:
    assert reason_for(None, rule.example) == rule.reason


@pytest.mark.parametrize("status", sorted(STATUS_RULES))
def test_each_enhanced_status_gives_its_reason_when_the_server_said_nothing_telling(status) -> None:
    assert reason_for(status, f"{status} -") == STATUS_RULES[status]


@pytest.mark.parametrize(
    ("reason", "hard"),
    [
        ("userunknown", True),
        ("hostunknown", True),
        ("hasmoved", True),
        ("notaccept", True),
        ("relaying-denied", True),
        ("mailboxfull", False),
        ("emailtoolarge", False),
        ("ratelimited", False),
        ("toomanyconn", False),
        ("blocked", False),
        ("spamdetected", False),
        ("filtered", False),
        ("policyviolation", False),
        ("authfailure", False),
        ("requireptr", False),
        ("rejected", False),
        ("suspend", False),
        ("expired", False),
        ("undefined", False),
    ],
)
def test_only_a_dead_address_is_hard(reason: str, hard: bool) -> None:
    assert is_hard(reason) is hard
    assert (reason in HARD_REASONS) is hard


def test_the_words_decide_before_a_code_that_says_otherwise_on_its_own() -> None:
    # 5.1.1 alone would be an unknown user; the server said the mailbox is full.
    assert reason_for("5.1.1", "552 5.1.1 mailbox is full") == "mailboxfull"
    assert not is_hard(reason_for("5.7.1", "550 5.7.1 Message rejected as spam"))


def test_an_unknown_user_refused_after_the_body_is_a_filter_unless_the_code_says_so() -> None:
    said = "550 Unknown user kijitora@example.net (in reply to end of DATA command)"
    assert reason_for("5.0.0", said) == "filtered"
    assert reason_for("5.1.1", said) == "userunknown"
    assert reason_for("5.0.0", said.replace("end of DATA", "RCPT TO")) == "userunknown"


def test_domino_not_listed_is_an_unknown_user_and_a_block_list_listing_is_a_block() -> None:
    assert reason_for(None, "User Kijitora (k@example.jp) not listed in Domino Directory") == "userunknown"
    assert reason_for(None, "554 Your IP 192.0.2.1 is listed in zen.spamhaus.org") == "blocked"


@pytest.mark.parametrize(
    ("written", "address"),
    [
        ("rfc822; Kijitora@Example.JP", "kijitora@example.jp"),
        ("<kijitora@example.jp>", "kijitora@example.jp"),
        ('"kijitora@example.jp"', "kijitora@example.jp"),
        ("rfc822;\r\n kijitora@example.jp", "kijitora@example.jp"),
        ("dda:SMTP=kijitora@example.jp", "kijitora@example.jp"),
        ("/DDA=SMTP=kijitora@example.jp/O=Neko/C=JP", "kijitora@example.jp"),
        ("X400; /C=JP/DDA=SMTP=kijitora@example.jp", "kijitora@example.jp"),
        ("SMTP:kijitora@example.jp", "kijitora@example.jp"),
        ("rfc822; nothing here", None),
    ],
)
def test_address_forms_of_bounces_give_the_plain_address(written: str, address: str | None) -> None:
    assert plain_address(written) == address


def _dsn(action: str) -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\n"
        "To: owner@main.example\r\nSubject: Successful Mail Delivery Report\r\n"
        "Message-ID: <report-1@mx.example.org>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nYour message was successfully delivered to the destination(s)\r\n"
        "listed below.\r\n\r\n<lead@dentist.example>: delivery via mx.dentist.example: 250 2.0.0 OK\r\n\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; lead@dentist.example\r\nAction: {action}\r\nStatus: 2.0.0\r\n"
        "Diagnostic-Code: smtp; 250 2.0.0 OK\r\n\r\n--b--\r\n"
    ).encode()


@pytest.mark.parametrize("action", ["delivered", "relayed", "expanded"])
async def test_a_delivery_report_of_a_success_is_a_notice_not_a_bounce(action: str) -> None:
    analysis = await analyze_message(_dsn(action))
    assert analysis.kind == "notice"
    assert analysis.bounce is None
    failed = await analyze_message(_dsn("failed").replace(b"250 2.0.0 OK", b"550 5.1.1 no such user"))
    assert failed.kind == "bounce"


async def test_a_newsletter_is_a_notice_and_a_vacation_reply_on_a_list_is_still_an_auto_reply() -> None:
    newsletter = (
        b"From: News <news@shop.example>\r\nTo: owner@main.example\r\nSubject: Our December deals\r\n"
        b"List-Id: <deals.shop.example>\r\nList-Unsubscribe: <https://shop.example/u>\r\n"
        b"Precedence: bulk\r\nMessage-ID: <n1@shop.example>\r\n\r\nTen percent off everything.\r\n"
    )
    analysis = await analyze_message(newsletter)
    assert analysis.kind == "notice"
    assert analysis.category is None
    vacation = newsletter.replace(b"Our December deals", b"Out of office").replace(
        b"Ten percent off everything.", b"I am out of the office until Monday."
    )
    assert (await analyze_message(vacation)).kind == "auto_reply"


async def test_a_list_address_in_the_returned_copy_is_not_a_failed_recipient() -> None:
    notice = (
        b"From: Mail Delivery System <Mailer-Daemon@mx.example.org>\r\nTo: owner@main.example\r\n"
        b"Subject: Mail delivery failed: returning message to sender\r\nMessage-ID: <e1@mx.example.org>\r\n\r\n"
        b"This message was created automatically by mail delivery software.\r\n\r\n"
        b"A message that you sent could not be delivered to one or more of its\r\n"
        b"recipients. This is a permanent error. The following address(es) failed:\r\n\r\n"
        b"  gone@dentist.example\r\n    host mx.dentist.example [192.0.2.7]\r\n"
        b"    SMTP error from remote mail server after RCPT TO:<gone@dentist.example>:\r\n"
        b"    550 5.1.1 User unknown\r\n\r\n"
        b"------ This is a copy of the message, including all the headers. ------\r\n\r\n"
        b"From: owner@main.example\r\nTo: gone@dentist.example, team@lists.example\r\n"
        b"Cc: everyone@groups.example\r\nMessage-ID: <ours-1@main.example>\r\nSubject: Hello\r\n\r\nHi\r\n"
    )
    analysis = await analyze_message(notice)
    assert analysis.kind == "bounce"
    assert [r.address for r in analysis.bounce.recipients] == ["gone@dentist.example"]
    assert analysis.bounce.recipients[0].hard
    assert analysis.bounce.original_message_id == "<ours-1@main.example>"


async def test_an_ses_complaint_is_a_complaint_about_the_message_it_names() -> None:
    body = (
        '{"Type":"Notification","Message":"{\\"notificationType\\":\\"Complaint\\",'
        '\\"complaint\\":{\\"complainedRecipients\\":[{\\"emailAddress\\":\\"lead@dentist.example\\"}],'
        '\\"complaintFeedbackType\\":\\"abuse\\"},\\"mail\\":{\\"commonHeaders\\":'
        '{\\"messageId\\":\\"<ours-7@main.example>\\"}}}"}'
    )
    raw = (
        "From: no-reply@sns.amazonaws.com\r\nTo: owner@main.example\r\nSubject: AWS Notification Message\r\n"
        f"Message-ID: <sns-1@sns.amazonaws.com>\r\n\r\n{body}\r\n"
    ).encode()
    analysis = await analyze_message(raw)
    assert analysis.category.category == "complaint"
    assert analysis.complaint.recipient == "lead@dentist.example"
    assert "<ours-7@main.example>" in analysis.mail.references
