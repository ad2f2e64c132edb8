"""Spam complaints as mailbox providers send them (tests/corpus/mail/complaints): each is read
as a complaint about the message it encloses, and one arriving through the inbound path
pauses the mailbox that sent that message and suppresses its recipient."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from engine_helpers import ONE_STEP, Clock, enrolled, mailbox, with_legal

from outreach.kernel import InboundMessage
from outreach.kernel.mail.analysis import analyze_message
from outreach.kernel.store.tables import EmailRow
from outreach.plugins.reputation import reputation_for

COMPLAINTS = Path(__file__).resolve().parent / "corpus" / "mail" / "complaints"


def _rows() -> list[dict[str, str]]:
    with (COMPLAINTS / "MANIFEST.tsv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _expected(row: dict[str, str]) -> dict[str, str]:
    """``feedback=abuse | recipient=a@b | original=<id>`` as a dict."""
    return dict(part.strip().split("=", 1) for part in row["expected"].split("|"))


ROWS = _rows()


def test_every_complaint_file_is_in_the_manifest_with_its_origin() -> None:
    assert {row["file"] for row in ROWS} == {p.name for p in COMPLAINTS.glob("*.eml")}
    assert all(row["origin_repo"] and row["origin_path"] and row["license"] and row["commit"] for row in ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[row["file"] for row in ROWS])
async def test_a_complaint_is_read_with_its_type_and_the_message_it_is_about(row) -> None:
    expected = _expected(row)
    analysis = await analyze_message((COMPLAINTS / row["file"]).read_bytes())
    assert analysis.kind == "reply"
    assert analysis.category.category == "complaint"
    assert analysis.category.detail == expected["feedback"]
    assert expected["original"] in analysis.mail.references


@pytest.mark.parametrize("row", ROWS, ids=[row["file"] for row in ROWS])
async def test_a_real_complaint_through_the_inbound_path_pauses_the_mailbox_that_sent(
    row, make_settings, make_runtime
) -> None:
    settings = with_legal(make_settings)(mailboxes=[mailbox()], sending={"rate_limit_per_minute": 0})
    rt = await make_runtime(settings)
    rt.clock = Clock()
    (email_id,) = (await enrolled(rt, 1, sequence=ONE_STEP)).values()
    assert (await rt.outbox.run_until_idle()).sent == 1
    # The provider's report encloses a message of ours: give ours that message's Message-ID.
    original = _expected(row)["original"]
    await EmailRow.update({EmailRow.message_id: original}).where(EmailRow.id == email_id)

    await rt.inbound.process(InboundMessage(raw=(COMPLAINTS / row["file"]).read_bytes(), source="test"))
    await reputation_for(rt.plugins.context).settle()

    email = await rt.emails.get(email_id)
    assert email.category == "complaint"
    (box,) = await rt.mailboxes.status()
    assert box.paused
    assert f"spam complaint about email {email_id}" in box.paused_reason
    assert await rt.suppressions.is_suppressed(email.to_address)


@pytest.mark.parametrize("row", ROWS, ids=[row["file"] for row in ROWS])
async def test_a_complaint_about_a_message_id_we_do_not_know_is_matched_by_the_complainer(
    row, make_settings, make_runtime
) -> None:
    expected = _expected(row)
    analysis = await analyze_message((COMPLAINTS / row["file"]).read_bytes())
    assert analysis.complaint.recipient == expected["recipient"]
    settings = with_legal(make_settings)(mailboxes=[mailbox()], sending={"rate_limit_per_minute": 0})
    rt = await make_runtime(settings)
    rt.clock = Clock()
    (email_id,) = (await enrolled(rt, 1, sequence=ONE_STEP, email=lambda _: expected["recipient"])).values()
    assert (await rt.outbox.run_until_idle()).sent == 1

    record = await rt.inbound.process(
        InboundMessage(raw=(COMPLAINTS / row["file"]).read_bytes(), source="test")
    )
    await reputation_for(rt.plugins.context).settle()

    assert (record.email_id, record.matched_by) == (email_id, "address")
    assert (await rt.emails.get(email_id)).category == "complaint"
    assert await rt.suppressions.is_suppressed(expected["recipient"])
