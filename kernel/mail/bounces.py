"""Recognizing bounces and reading who bounced, with which status, hard or soft.

Three readers behind one result: RFC 3464 delivery status notifications
(``message/delivery-status``), Amazon SES notifications mailed through SNS (JSON), and
the plain-text notices of :mod:`.notices`. A delivery report whose recipients were all
``delivered``, ``relayed`` or ``expanded`` is a success report, not a bounce; so is an
SES ``Delivery`` notification.
"""

from __future__ import annotations

from email.message import Message

import msgspec

from .addresses import plain_address
from .bounce_reasons import find_reply_code, find_status, inner_reply, is_hard, reason_for
from .message import body_text, header, walk
from .notices import COPY_MARKERS, failed_lines, looks_like_notice, notice_text
from .original import original_message_id
from .ses_notifications import read_ses_notification

#: DSN actions that report a success (RFC 3464 section 2.3.3).
SUCCESS_ACTIONS = frozenset({"delivered", "relayed", "expanded"})


class BouncedRecipient(msgspec.Struct, kw_only=True):
    """One address a bounce says could not be reached."""

    address: str
    status: str | None = None
    reply_code: str | None = None
    reason: str = "undefined"
    hard: bool = False
    action: str | None = None
    diagnostic: str | None = None


class Bounce(msgspec.Struct, kw_only=True):
    """What a bounce says: who failed, how, and which message of ours it returns."""

    recipients: list[BouncedRecipient]
    original_message_id: str | None = None
    source: str = "dsn"

    @property
    def classification(self) -> str:
        """``hard``, ``soft``, or ``mixed`` when recipients differ."""
        kinds = {"hard" if r.hard else "soft" for r in self.recipients}
        return kinds.pop() if len(kinds) == 1 else "mixed"


class SuccessReport(msgspec.Struct, kw_only=True):
    """A delivery report that says the message got through: nothing failed."""

    addresses: list[str]


def _field(block: Message, name: str) -> str:
    return " ".join(header(block, name).split())


def _recipient(
    address: str,
    *,
    status: str | None,
    reply_code: str | None,
    diagnostic: str,
    action: str,
    context: str = "",
) -> BouncedRecipient:
    """One failed recipient, its reason read from the server's words and codes."""
    delayed = action == "delayed"
    reason = reason_for(status, diagnostic, delayed=delayed, context=context)
    return BouncedRecipient(
        address=address,
        status=status,
        reply_code=reply_code,
        reason=reason,
        hard=not delayed and is_hard(reason),
        action=action,
        diagnostic=diagnostic or None,
    )


def _status(field: str, diagnostic: str) -> str | None:
    """The Status field's code, unless it is a bare ``X.0.0`` and the server said something exact."""
    status = find_status(field)
    said = find_status(diagnostic)
    if said and (status is None or (status.endswith(".0.0") and said[0] == status[0])):
        return said
    return status


def _dsn_blocks(message: Message) -> list[Message] | None:
    """The per-recipient blocks of the report's ``message/delivery-status`` part, or None."""
    for part in walk(message):
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        blocks = [b for b in payload if isinstance(b, Message)] if isinstance(payload, list) else []
        if blocks:
            return blocks
    return None


def _from_dsn(message: Message) -> list[BouncedRecipient] | SuccessReport | None:
    blocks = _dsn_blocks(message)
    if blocks is None:
        return None
    context, _ = body_text(message)
    recipients, succeeded = [], []
    for block in blocks:
        address = plain_address(_field(block, "Final-Recipient") or _field(block, "Original-Recipient"))
        if not address:
            continue
        action = _field(block, "Action").lower() or None
        if action in SUCCESS_ACTIONS:
            succeeded.append(address)
            continue
        diagnostic = _field(block, "Diagnostic-Code") or _field(block, "X-Supplementary-Info")
        said = diagnostic.partition(";")[2] or diagnostic
        # The remote's last answer, quoted by the server that gave up, is the most exact.
        quoted = inner_reply(said)
        recipients.append(
            _recipient(
                address,
                status=quoted[1] if quoted else _status(_field(block, "Status"), said),
                reply_code=quoted[0] if quoted else find_reply_code(said),
                diagnostic=diagnostic,
                action=action or "failed",
                context=context,
            )
        )
    if recipients:
        return recipients
    return SuccessReport(addresses=succeeded) if succeeded else None


def _from_ses(message: Message) -> list[BouncedRecipient] | SuccessReport | None:
    text, _ = body_text(message)
    notification = read_ses_notification(text) if "{" in text else None
    if notification is None or notification.kind == "Complaint":
        return None
    if notification.kind == "Delivery":
        return SuccessReport(addresses=[r.address for r in notification.recipients])
    return [
        _recipient(
            recipient.address,
            status=_status(recipient.status or "", recipient.diagnostic),
            reply_code=find_reply_code(recipient.diagnostic.partition(";")[2] or recipient.diagnostic),
            diagnostic=recipient.diagnostic,
            action="failed" if notification.permanent else "delayed",
        )
        for recipient in notification.recipients
    ] or None


def _from_text(message: Message) -> list[BouncedRecipient]:
    notice = notice_text(message)
    recipients = []
    for line in failed_lines(message):
        quoted = inner_reply(line.text)
        recipients.append(
            _recipient(
                line.address,
                status=quoted[1] if quoted else find_status(line.text),
                reply_code=quoted[0] if quoted else find_reply_code(line.text),
                diagnostic=" ".join(line.text.split())[:500],
                action="delayed" if line.temporary else "failed",
                context=notice,
            )
        )
    return recipients


def read_report(message: Message) -> Bounce | SuccessReport | None:
    """What ``message`` reports about a delivery: a bounce, a success, or None if it reports none."""
    found, source = _from_dsn(message), "dsn"
    if found is None:
        found, source = _from_ses(message), "ses"
    if isinstance(found, SuccessReport):
        return found
    if found is None:
        if not looks_like_notice(message):
            return None
        found, source = _from_text(message), "text"
    if not found:
        return None
    return Bounce(
        recipients=found, original_message_id=original_message_id(message, COPY_MARKERS), source=source
    )


def read_bounce(message: Message) -> Bounce | None:
    """The bounce ``message`` is, or None if it is not one."""
    report = read_report(message)
    return report if isinstance(report, Bounce) else None
