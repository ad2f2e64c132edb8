"""A person's answer to a reply: an outbox row in the reply's thread, from the mailbox that wrote.

The answer goes to the address the reply came from, as a threaded reply to it
(``In-Reply-To`` its Message-ID, ``References`` the thread's plus it, a ``Re:``
subject, the provider's thread id), from the mailbox that sent the email the reply
answers, under that mailbox's From. It is queued due now and the outbox worker sends
it like every other email, under the same claim, ledger, retries, caps and checks.

It is marked ``kind = "answer"`` (no sequence, step 0): the compliance checks leave
the cold-email footer and unsubscribe headers off it, the sending window does not
hold it, a reply never cancels it as a follow-up, and no cold-email figure counts it.
The suppression list still applies: an answer to a suppressed address is refused
here, and cancelled by the outbox should the address be suppressed before it goes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from ..errors import InvalidInput, OutreachError
from ..models import ANSWER_EMAIL, Email, InboundRecord
from ..states import EmailState
from ..store.engine import write_transaction
from ..store.filters import in_values
from ..store.mapping import email_columns, email_from_row
from ..store.tables import AuditRow, EmailRow
from . import audit
from .outbox.messages import make_message_id
from .sequences import reply_subject

if TYPE_CHECKING:
    from ..runtime import Runtime

log = structlog.get_logger("outreach.answers")

#: The longest answer accepted, in characters (a reply, not a newsletter).
MAX_ANSWER = 20_000
#: The step number of an answer: it is no step of any sequence.
ANSWER_STEP = 0
#: Inbound kinds a person can answer: what a person wrote (not bounces, notices or auto-replies).
ANSWERABLE = ("reply",)


class AnswerRefused(OutreachError):
    """An answer that cannot be sent as asked; the sentence says why and what to do."""

    status_code = 409


def dedupe_key(inbound_id: int, token: str) -> str:
    """The unique key of one answer form's submission: sent twice, it is queued once."""
    return f"answer:{inbound_id}:{token}"


def references(email: Email, message: InboundRecord) -> list[str]:
    """The thread's ``References``: the email's own, the email, and the reply answered."""
    chain = [*email.references, email.message_id, message.message_id]
    return list(dict.fromkeys(m for m in chain if m))


def quoted(message: InboundRecord) -> str:
    """The reply's own words, quoted the way mail clients quote (``> `` before each line)."""
    text = (message.reply_text or message.body or "").strip()
    if not text:
        return ""
    when = message.received_at.strftime("%a, %d %b %Y at %H:%M") if message.received_at else "earlier"
    lines = "\n".join(f"> {line}" if line else ">" for line in text.splitlines())
    return f"On {when}, {message.address or 'you'} wrote:\n{lines}"


async def _refusal(rt: Runtime, message: InboundRecord, email: Email | None) -> str | None:
    """Why ``message`` cannot be answered, in a sentence a person can act on; None if it can."""
    if message.kind not in ANSWERABLE or message.category == "complaint":
        return (
            f"This message is {'a spam complaint' if message.category == 'complaint' else message.kind}, "
            "not something a person wrote, so there is nobody to answer."
        )
    if email is None or message.lead_id is None:
        return (
            "This message is not matched to an email outreach sent, so there is no thread and no "
            "mailbox to answer from; answer it from your mail program."
        )
    if not email.mailbox or email.mailbox not in rt.mailboxes.names():
        return (
            f"The mailbox that wrote this thread ('{email.mailbox}') is not in the config any more; "
            "add it back under [[mailboxes]] to answer from it."
        )
    if not email.message_id:
        return "The email this message answers has no Message-ID, so an answer cannot join its thread."
    return None


class AnswerService:
    """Queues a person's answers to replies and reads them back."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    async def refusal(self, message: InboundRecord) -> str | None:
        """Why ``message`` cannot be answered (the page says it instead of a form); None if it can."""
        return await _refusal(self._rt, message, await self._email_of(message))

    async def _email_of(self, message: InboundRecord) -> Email | None:
        if message.email_id is None:
            return None
        row = await EmailRow.select().where(EmailRow.id == message.email_id).first()
        return email_from_row(row, self._rt.vault) if row else None

    async def answer(self, inbound_id: int, text: str, *, token: str, actor: str) -> Email:
        """Queue ``text`` as the answer to inbound message ``inbound_id``; the queued email.

        ``token`` names the form it was written in: the same form sent twice queues one
        answer. Raises :class:`AnswerRefused` when the message cannot be answered or its
        sender is on the suppression list, :class:`InvalidInput` for an empty answer.
        """
        rt = self._rt
        body = (text or "").replace("\r\n", "\n").strip()
        if not body:
            raise InvalidInput("The answer is empty; write what to send.")
        if len(body) > MAX_ANSWER:
            raise InvalidInput(f"The answer is {len(body)} characters long; keep it under {MAX_ANSWER}.")
        token = (token or "").strip()[:64]
        if not token:
            raise InvalidInput("This form has expired; reload the page and write the answer again.")
        message = await rt.inbound.get(inbound_id)
        email = await self._email_of(message)
        refusal = await _refusal(rt, message, email)
        if refusal or email is None or message.lead_id is None:
            raise AnswerRefused(refusal or "This message cannot be answered.")
        to_address = message.address or email.to_address
        if await rt.suppressions.is_suppressed(to_address):
            raise AnswerRefused(
                f"{to_address} is on the suppression list, so outreach never writes to it, not even an "
                "answer. If the person asked to hear from you again, take the address off the Suppression "
                "list first."
            )
        key = dedupe_key(inbound_id, token)
        from_address = rt.mailboxes.settings_of(email.mailbox or "").from_address
        values = {
            "lead": message.lead_id,
            "sequence_id": None,
            "step_number": ANSWER_STEP,
            "kind": ANSWER_EMAIL,
            "dedupe_key": key,
            "mailbox": email.mailbox,
            "to_address": to_address,
            "from_address": from_address,
            "subject": reply_subject(message.subject or email.subject),
            "body_text": "\n\n".join(part for part in (body, quoted(message)) if part) + "\n",
            "body_html": None,
            "message_id": make_message_id(from_address),
            "in_reply_to": message.message_id or email.message_id,
            "references": references(email, message),
            "provider_thread_id": email.provider_thread_id,
            "state": EmailState.QUEUED,
            "due_at": rt.clock(),
            "recipient_timezone": email.recipient_timezone,
        }
        async with write_transaction():
            existing = await EmailRow.select().where(EmailRow.dedupe_key == key).first()
            if existing is not None:
                return email_from_row(existing, rt.vault)
            rows = await EmailRow.insert(EmailRow(**email_columns(values, rt.vault))).returning(
                *EmailRow.all_columns()
            )
            queued = email_from_row(rows[0], rt.vault)
            facts = {"inbound_id": inbound_id, "email_id": queued.id, "mailbox": email.mailbox}
            await audit.record(
                "email", queued.id, "queued", actor, new={"state": "queued", "kind": ANSWER_EMAIL, **facts}
            )
            await audit.record("lead", message.lead_id, "answered", actor, new=facts)
            await audit.record("inbound", inbound_id, "answered", actor, new=facts)
        log.info("answer_queued", email_id=queued.id, lead_id=queued.lead_id, inbound_id=inbound_id)
        rt.outbox.wake()
        return queued

    async def answered(self, inbound_ids: list[int]) -> set[int]:
        """Which of these inbound messages a person answered (for the inbox's list)."""
        if not inbound_ids:
            return set()
        rows = await AuditRow.select(AuditRow.entity, AuditRow.entity_id).where(
            in_values(AuditRow.entity_id, sorted(set(inbound_ids))) & (AuditRow.action == "answered")
        )
        return {row["entity_id"] for row in rows if row["entity"] == "inbound"}
