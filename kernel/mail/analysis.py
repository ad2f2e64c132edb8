"""What outreach makes of one raw inbound message: a spam complaint, a bounce, a notice
(a delivery receipt or a newsletter), an auto-reply, or a reply; and for replies (and
out-of-office notices) a category from the reply classifiers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from ..contracts import ReplyCategory, ReplyToClassify
from ..protocols import ReplyClassifier
from .autoreply import AutoReply, detect_auto_reply, is_bulk_mail
from .bounces import Bounce, SuccessReport, read_report
from .feedback import Complaint, read_complaint
from .message import ParsedMail, load, parse
from .quoting import reply_text


class MailAnalysis(msgspec.Struct, kw_only=True):
    """The verdict on one inbound message."""

    kind: str
    mail: ParsedMail
    bounce: Bounce | None = None
    complaint: Complaint | None = None
    auto_reply: AutoReply | None = None
    reply_text: str | None = None
    category: ReplyCategory | None = None

    def to_report(self) -> dict[str, Any]:
        """The JSON shape ``outreach mail classify`` prints."""
        bounce = None
        if self.bounce is not None:
            bounce = {
                "class": self.bounce.classification,
                "original_message_id": self.bounce.original_message_id,
                "recipients": [
                    {
                        "address": r.address,
                        "status": r.status,
                        "reply_code": r.reply_code,
                        "class": "hard" if r.hard else "soft",
                        "reason": r.reason,
                        "action": r.action,
                    }
                    for r in self.bounce.recipients
                ],
            }
        return {
            "kind": self.kind,
            "message_id": self.mail.message_id,
            "in_reply_to": self.mail.in_reply_to,
            "from": self.mail.from_address,
            "subject": self.mail.subject,
            "bounce": bounce,
            "complaint": msgspec.to_builtins(self.complaint) if self.complaint else None,
            "auto_reply": msgspec.to_builtins(self.auto_reply) if self.auto_reply else None,
            "category": self.category.category if self.category else None,
            "return_date": self.category.return_date if self.category else None,
            "classifier": self.category.classifier if self.category else None,
            "reply_text": self.reply_text,
        }


async def categorize(reply: ReplyToClassify, classifiers: Iterable[ReplyClassifier]) -> ReplyCategory:
    """Ask every classifier; the most confident answer wins (earlier ones win ties)."""
    best: ReplyCategory | None = None
    for classifier in classifiers:
        answer = await classifier.classify(reply)
        if answer is None:
            continue
        answer.classifier = answer.classifier or classifier.name
        if best is None or answer.confidence > best.confidence:
            best = answer
    return best or ReplyCategory(category="unknown", confidence=0.0, classifier=None)


#: The category of a spam complaint (an ARF feedback report, JMRP, SES).
COMPLAINT = "complaint"


async def analyze_message(
    raw: bytes, classifiers: Iterable[ReplyClassifier] = (), *, country_code: str | None = None
) -> MailAnalysis:
    """Classify ``raw``: a spam complaint first, then a bounce (bounces also carry auto-reply
    headers) or a success report, a newsletter, an auto-reply, and last a reply."""
    mail = parse(raw)
    loaded = load(raw)
    complaint = read_complaint(loaded, mail.text)
    if complaint is not None:
        # A complaint is matched like a reply: the original's Message-ID joins the thread.
        if complaint.original_message_id:
            mail = msgspec.structs.replace(mail, references=[*mail.references, complaint.original_message_id])
        category = ReplyCategory(
            category=COMPLAINT, confidence=1.0, detail=complaint.feedback_type, classifier=complaint.format
        )
        return MailAnalysis(kind="reply", mail=mail, reply_text="", category=category, complaint=complaint)
    report = read_report(loaded)
    if isinstance(report, Bounce):
        return MailAnalysis(kind="bounce", mail=mail, bounce=report)
    if isinstance(report, SuccessReport) or is_bulk_mail(mail):
        # Nobody wrote it and nothing failed: a delivery receipt or a newsletter.
        return MailAnalysis(kind="notice", mail=mail)
    auto = detect_auto_reply(mail)
    text = reply_text(mail.text)
    reply = ReplyToClassify(
        subject=mail.subject,
        text=text,
        full_text=mail.text,
        from_address=mail.from_address,
        auto_reply=auto is not None,
        auto_subtype=auto.subtype if auto else None,
        received_at=mail.date,
        country_code=country_code,
    )
    category = await categorize(reply, classifiers)
    return MailAnalysis(
        kind="auto_reply" if auto else "reply", mail=mail, auto_reply=auto, reply_text=text, category=category
    )
