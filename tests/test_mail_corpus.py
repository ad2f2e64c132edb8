"""Bounces, auto-replies and replies from real servers and clients (tests/corpus/mail),
checked against the expected values in each folder's MANIFEST.tsv."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from outreach.kernel.mail.analysis import MailAnalysis, analyze_message
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

#: Rows the analysis still gets wrong, and why; strict, so a fix shows up as a pass to claim.
KNOWN_MISSES = {
    "sisimai__email-apachejames-01.eml": "sisimai reads 'no such user here' with no SMTP command as filtered",
    "sisimai__email-mcafee-01.eml": "sisimai reads McAfee's 'Unknown user' with no SMTP command as filtered",
}


def _bounce_rows() -> list[object]:
    return [
        pytest.param(
            row, id=row["file"], marks=pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[row["file"]])
        )
        if row["file"] in KNOWN_MISSES
        else pytest.param(row, id=row["file"])
        for row in BOUNCES
    ]


REPLIES = _manifest("replies")


@pytest.mark.parametrize("row", _bounce_rows())
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


def _bounce_checks(row: dict[str, str], analysis: MailAnalysis) -> list[bool]:
    """One boolean per asserted field of a bounce row (the same fields test_bounce_corpus asserts)."""
    overall, recipients = _expected_bounce(row["expected"])
    if overall == "none":
        return [analysis.kind != "bounce"]
    checks = [analysis.kind == "bounce"]
    if analysis.bounce is None:
        # Every field the row asserts is missed.
        return checks + [False] * (2 + sum(4 - s.startswith("~") for _, s, _, _ in recipients.values()))
    found = {r.address: r for r in analysis.bounce.recipients}
    checks += [analysis.bounce.classification == overall, set(found) == set(recipients)]
    for address, (klass, status, reply, reason) in recipients.items():
        got = found.get(address)
        checks.append(got is not None and ("hard" if got.hard else "soft") == klass)
        if not status.startswith("~"):
            checks.append(got is not None and got.status == status)
        checks.append(got is not None and (got.reply_code or "") == reply)
        checks.append(got is not None and got.reason == reason)
    return checks


def _reply_checks(row: dict[str, str], analysis: MailAnalysis) -> list[bool]:
    """One boolean per asserted field of a reply row."""
    fields = dict(part.strip().split("=", 1) for part in row["expected"].split(";"))
    if fields["kind"] == "auto":
        return [
            analysis.kind == "auto_reply",
            analysis.auto_reply is not None and analysis.auto_reply.subtype == fields["subtype"],
            analysis.category is not None and analysis.category.category == "out_of_office",
        ]
    return [analysis.kind == "reply", analysis.reply_text == fields["reply_text"].replace("\\n", "\n")]


async def test_corpus_score_is_at_least_97_percent(capsys: pytest.CaptureFixture[str]) -> None:
    """The share of all asserted fields over the whole corpus that the analysis gets right."""
    passed = total = 0
    for folder, rows, checker in (("bounces", BOUNCES, _bounce_checks), ("replies", REPLIES, _reply_checks)):
        for row in rows:
            analysis = await analyze_message((MAIL / folder / row["file"]).read_bytes(), [RuleClassifier()])
            checks = checker(row, analysis)
            passed += sum(checks)
            total += len(checks)
    score = passed / total
    with capsys.disabled():
        print(f"\nmail corpus score: {passed}/{total} checks = {score:.1%}")
    assert score >= 0.97


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
        "sisimai/rb-sisimai",
        "RFC 5965",
        "rgl/MailBounceDetector",
        "jbescoyez/bounce_email",
        "mailgun/talon",
    ):
        assert origin in readme
    assert Path(CORPUS / "maps" / "MANIFEST.md").exists()
