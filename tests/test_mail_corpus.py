"""Bounces, auto-replies and replies from real servers and clients (tests/corpus/mail),
checked against the expected values in each folder's MANIFEST.tsv."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from outreach.kernel.mail.analysis import analyze_message
from outreach.plugins.reply_rules import RuleClassifier

CORPUS = Path(__file__).resolve().parent / "corpus"

MAIL = CORPUS / "mail"


def _manifest(folder: str) -> list[dict[str, str]]:
    with (MAIL / folder / "MANIFEST.tsv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _expected_bounce(expected: str) -> tuple[str, dict[str, tuple[str, str, str, str]]]:
    """``class=hard | a@b=hard,5.1.1,550,userunknown | ...`` -> overall, {address: fields}."""
    overall, *recipients = [part.strip() for part in expected.split("|")]
    per = {}
    for item in recipients:
        address, _, fields = item.partition("=")
        klass, status, reply, reason = fields.split(",")
        per[address.lower()] = (klass, status, reply, reason)
    return overall.removeprefix("class="), per


BOUNCES = _manifest("bounces")
REPLIES = _manifest("replies")


@pytest.mark.parametrize("row", BOUNCES, ids=[r["file"] for r in BOUNCES])
async def test_bounce_corpus(row: dict[str, str]) -> None:
    raw = (MAIL / "bounces" / row["file"]).read_bytes()
    analysis = await analyze_message(raw, [RuleClassifier()])
    overall, recipients = _expected_bounce(row["expected"])
    if overall == "none":
        assert analysis.kind != "bounce"
        return
    assert analysis.kind == "bounce"
    assert analysis.bounce.classification == overall
    found = {r.address: r for r in analysis.bounce.recipients}
    assert set(found) == set(recipients)
    for address, (klass, status, reply, reason) in recipients.items():
        got = found[address]
        assert ("hard" if got.hard else "soft") == klass, address
        if not status.startswith("~"):  # a leading ~ marks a status the message does not carry
            assert got.status == status, address
        assert (got.reply_code or "") == reply, address
        assert got.reason == reason, address


@pytest.mark.parametrize("row", REPLIES, ids=[r["file"] for r in REPLIES])
async def test_reply_corpus(row: dict[str, str]) -> None:
    raw = (MAIL / "replies" / row["file"]).read_bytes()
    analysis = await analyze_message(raw, [RuleClassifier()])
    fields = dict(part.strip().split("=", 1) for part in row["expected"].split(";"))
    if fields["kind"] == "auto":
        assert analysis.kind == "auto_reply"
        assert analysis.auto_reply.subtype == fields["subtype"]
        assert analysis.category.category == "out_of_office"
    else:
        assert analysis.kind == "reply"
        assert analysis.reply_text == fields["reply_text"].replace("\\n", "\n")


async def test_bounce_names_the_message_it_returns() -> None:
    raw = (MAIL / "bounces" / "sisimai__lhost-exim-02.eml").read_bytes()
    analysis = await analyze_message(raw)
    assert analysis.bounce.original_message_id == "<E1X58pB-0004bW-2s@marutamachi.example.org>"


async def test_out_of_office_return_date_is_read() -> None:
    raw = (MAIL / "replies" / "sisimai__rfc3834-01.eml").read_bytes()
    analysis = await analyze_message(raw, [RuleClassifier()])
    assert analysis.category.return_date == "2005-05-05"


def test_every_corpus_file_is_in_a_manifest() -> None:
    for folder, rows in (("bounces", BOUNCES), ("replies", REPLIES)):
        listed = {row["file"] for row in rows}
        present = {p.name for p in (MAIL / folder).glob("*.eml")}
        assert listed == present
        assert all(row["origin_repo"] and row["license"] and row["commit"] for row in rows)


def test_corpus_readme_keeps_attribution() -> None:
    readme = (MAIL / "README.md").read_text()
    for origin in (
        "sisimai/set-of-emails",
        "rgl/MailBounceDetector",
        "jbescoyez/bounce_email",
        "mailgun/talon",
    ):
        assert origin in readme
    assert Path(CORPUS / "maps" / "MANIFEST.md").exists()
