"""Finding the email of ours an inbound message answers.

In order: the ``In-Reply-To`` and ``References`` headers (a reply names the message it
answers, and clients keep the whole thread in ``References``); the original
``Message-ID`` a bounce or a complaint carries in its copy of the message; then the
address: a reply's sender, a complaint's complainer, or a bounce's failed recipient,
compared by keyed hash with the addresses we wrote to, the most recently sent first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from ..mail.analysis import MailAnalysis
from ..mail.bounces import BouncedRecipient
from ..models import Email
from ..states import LEFT_STATES
from ..store.mapping import email_from_row
from ..store.tables import EmailRow

if TYPE_CHECKING:
    from ..runtime import Runtime

#: States of an email that has left: only those can be answered or bounce.
LEFT = LEFT_STATES


class Match(msgspec.Struct, kw_only=True):
    """The email a message was matched to (if any), how, and the address it concerns."""

    email: Email | None = None
    matched_by: str | None = None
    #: The reply's sender, or the bounced recipient the effects apply to.
    address: str | None = None
    #: For a bounce: the failed recipient that is our email's address (None if it is not ours).
    recipient: BouncedRecipient | None = None


async def _by_message_ids(rt: Runtime, message_ids: list[str]) -> Email | None:
    """The email with the first of ``message_ids`` (in the order given) that is ours."""
    wanted = [m for m in dict.fromkeys(message_ids) if m]
    if not wanted:
        return None
    rows = await EmailRow.select().where(EmailRow.message_id.is_in(wanted))
    by_id = {row["message_id"]: row for row in rows}
    for message_id in wanted:
        if message_id in by_id:
            return email_from_row(by_id[message_id], rt.vault)
    return None


async def _by_address(rt: Runtime, address: str | None) -> Email | None:
    """The email most recently sent to ``address``."""
    digest = rt.vault.hash_email(address)
    if digest is None:
        return None
    row = await (
        EmailRow.select()
        .where((EmailRow.to_hash == digest) & EmailRow.state.is_in(list(LEFT)))
        .order_by(EmailRow.sent_at, ascending=False)
        .order_by(EmailRow.id, ascending=False)
        .first()
    )
    return email_from_row(row, rt.vault) if row else None


def _ours(rt: Runtime, email: Email, recipients: list[BouncedRecipient]) -> BouncedRecipient | None:
    digest = rt.vault.hash_email(email.to_address)
    return next((r for r in recipients if rt.vault.hash_email(r.address) == digest), None)


async def match_message(rt: Runtime, analysis: MailAnalysis) -> Match:
    """Which of our emails ``analysis`` concerns, and how that was found."""
    mail = analysis.mail
    # In-Reply-To names the message answered; References ends with the most recent one.
    thread = [mail.in_reply_to or "", *reversed(mail.references)]
    bounce = analysis.bounce
    if bounce is None:
        # A complaint comes from the provider; the address it concerns is the complainer's.
        complaint = analysis.complaint
        address = complaint.recipient if complaint and complaint.recipient else mail.from_address
        email = await _by_message_ids(rt, thread)
        if email is not None:
            how = "in_reply_to" if email.message_id == mail.in_reply_to else "references"
            return Match(email=email, matched_by=how, address=address)
        email = await _by_address(rt, address)
        return Match(email=email, matched_by="address" if email else None, address=address)

    recipients = bounce.recipients
    for ids, how in ((thread, "in_reply_to"), ([bounce.original_message_id or ""], "bounce")):
        email = await _by_message_ids(rt, ids)
        if email is not None:
            ours = _ours(rt, email, recipients)
            address = ours.address if ours else (recipients[0].address if recipients else None)
            return Match(email=email, matched_by=how, address=address, recipient=ours)
    for recipient in recipients:
        email = await _by_address(rt, recipient.address)
        if email is not None:
            return Match(email=email, matched_by="address", address=recipient.address, recipient=recipient)
    return Match(address=recipients[0].address if recipients else None)
