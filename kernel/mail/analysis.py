"""What outreach makes of one raw inbound message: a bounce, an auto-reply, or a reply,
and for replies (and out-of-office notices) a category from the reply classifiers."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import msgspec

from ..contracts import ReplyCategory, ReplyToClassify
from ..protocols import ReplyClassifier
from .autoreply import AutoReply, detect_auto_reply
from .bounces import Bounce, _original_message_id, read_bounce
from .message import ParsedMail, header, load, parse, part_text
from .quoting import reply_text


class MailAnalysis(msgspec.Struct, kw_only=True):
    """The verdict on one inbound message."""

    kind: str
    mail: ParsedMail
    bounce: Bounce | None = None
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


#: The category of a spam complaint (an ARF feedback report).
COMPLAINT = "complaint"


def read_feedback_report(message: Any) -> tuple[str, str | None] | None:
    """``(feedback type, original Message-ID)`` when ``message`` is an ARF report (RFC 5965), else None.

    RFC 5965 section 2: a ``multipart/report; report-type=feedback-report`` whose second
    part is ``message/feedback-report`` (``Feedback-Type: abuse`` and friends) and whose
    third is the original message or its headers.
    """
    content_type = header(message, "Content-Type").lower()
    parts = list(message.walk())
    report = next((p for p in parts if p.get_content_type() == "message/feedback-report"), None)
    if report is None and "feedback-report" not in content_type:
        return None
    feedback_type = "abuse"
    if report is not None:
        # Python parses message/* parts as sub-messages: the fields are the first one's headers.
        payload = report.get_payload()
        block = payload[0] if isinstance(payload, list) and payload else None
        fields = header(block, "Feedback-Type") if block is not None else ""
        if not fields:
            found = re.search(r"(?im)^feedback-type:\s*([\w-]+)", part_text(report))
            fields = found.group(1) if found else ""
        feedback_type = fields.strip().lower() or feedback_type
    return feedback_type, _original_message_id(message, "")


async def analyze_message(raw: bytes, classifiers: Iterable[ReplyClassifier] = ()) -> MailAnalysis:
    """Classify ``raw``: a spam complaint (ARF) first, then bounce (bounces also carry auto-reply
    headers), then auto-reply, then reply."""
    mail = parse(raw)
    loaded = load(raw)
    feedback = read_feedback_report(loaded)
    if feedback is not None:
        # A complaint is matched like a reply: the original's Message-ID joins the thread.
        kind, original = feedback
        if original:
            mail = msgspec.structs.replace(mail, references=[*mail.references, original])
        category = ReplyCategory(category=COMPLAINT, confidence=1.0, detail=kind, classifier="arf")
        return MailAnalysis(kind="reply", mail=mail, reply_text="", category=category)
    bounce = read_bounce(loaded)
    if bounce is not None:
        return MailAnalysis(kind="bounce", mail=mail, bounce=bounce)
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
    )
    category = await categorize(reply, classifiers)
    return MailAnalysis(
        kind="auto_reply" if auto else "reply", mail=mail, auto_reply=auto, reply_text=text, category=category
    )
