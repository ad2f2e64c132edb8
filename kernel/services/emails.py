"""Outgoing emails: reading them, showing the exact message of one, and changing their state."""

from __future__ import annotations

import asyncio
import email as email_parser
from datetime import datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from ..compliance import public_url
from ..contracts import OutgoingMessage
from ..errors import NotFound
from ..mime import mime_bytes
from ..models import Email, Page
from ..states import EMAIL_MACHINE, EmailState
from ..store.engine import write_transaction
from ..store.filters import in_values
from ..store.mapping import email_columns, email_from_row
from ..store.tables import EmailRow, LeadRow
from . import audit
from .transitions import apply_transition, utcnow

if TYPE_CHECKING:
    from ..runtime import Runtime

log = structlog.get_logger("outreach.emails")

#: The sender that writes each message to a file and delivers nothing.
FILE_SENDER = "outbox"
#: States of an email a sender took (whatever happened after).
WENT_OUT = frozenset({"sent", "delivered", "opened", "replied", "categorized", "bounced"})


def written_to_file(email: Email) -> bool:
    """Whether the email "went out" only as an ``.eml`` file of the ``outbox`` sender."""
    return email.sender_backend == FILE_SENDER and email.state in WENT_OUT


class MessageView(msgspec.Struct, kw_only=True):
    """One email's message as a person reads it: headers, text, HTML, and where they come from.

    ``source``: ``file`` (the very ``.eml`` the outbox sender wrote), ``rebuilt`` (from the
    stored row, the way the sender built it, compliance headers and footer included) or
    ``stored`` (not sent: what compliance adds is not known yet). ``note`` says so in words.
    """

    source: str
    note: str
    headers: list[tuple[str, str]] = []
    text: str = ""
    html: str | None = None
    path: str | None = None


def _read_eml(value: str) -> bytes | None:
    """The bytes of an ``.eml`` file the outbox sender wrote, or None when it is gone."""
    path = Path(value)
    if path.suffix != ".eml" or not path.is_file():
        return None
    return path.read_bytes()


def _parts(raw: bytes) -> tuple[list[tuple[str, str]], str, str | None]:
    parsed = email_parser.message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
    headers = [(name, str(value)) for name, value in parsed.items()]
    text_part = parsed.get_body(("plain",))
    html_part = parsed.get_body(("html",))
    text = text_part.get_content() if isinstance(text_part, EmailMessage) else ""
    markup = html_part.get_content() if isinstance(html_part, EmailMessage) else None
    return headers, text, markup


class EmailService:
    """Reads and changes outgoing emails; fires ``email_transitioned`` after each change."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def _email(self, row: dict[str, Any]) -> Email:
        return email_from_row(row, self._rt.vault)

    async def get(self, email_id: int) -> Email:
        """One email; :class:`NotFound` if there is none."""
        row = await EmailRow.select().where(EmailRow.id == email_id).first()
        if row is None:
            raise NotFound(f"There is no email with id {email_id}; `outreach outbox list` shows them.")
        return self._email(row)

    async def for_lead(self, lead_id: int) -> list[Email]:
        """Every email of one lead, in sequence order."""
        rows = await EmailRow.select().where(EmailRow.lead == lead_id).order_by(EmailRow.step_number)
        return [self._email(row) for row in rows]

    async def list(
        self,
        state: str | None = None,
        page: int = 1,
        per_page: int = 50,
        *,
        needs_attention: bool | None = None,
    ) -> Page:
        """One page of emails, newest first, optionally in one state or only those needing attention."""
        select, count = EmailRow.select(), EmailRow.count()
        if state:
            select, count = select.where(EmailRow.state == state), count.where(EmailRow.state == state)
        if needs_attention is not None:
            flag = EmailRow.needs_attention.eq(needs_attention)
            select, count = select.where(flag), count.where(flag)
        page = max(1, page)
        rows = (
            await select.order_by(EmailRow.id, ascending=False).limit(per_page).offset((page - 1) * per_page)
        )
        return Page(items=[self._email(r) for r in rows], total=await count, page=page, per_page=per_page)

    async def lead_names(self, lead_ids: list[int]) -> dict[int, str]:
        """The business name of each of these leads that still exists, by id (for lists of emails)."""
        if not lead_ids:
            return {}
        rows = await LeadRow.select(LeadRow.id, LeadRow.business_name).where(
            in_values(LeadRow.id, sorted(set(lead_ids)))
        )
        return {row["id"]: row["business_name"] for row in rows}

    async def queued_in(self, mailboxes: list[str], limit: int = 500) -> list[Email]:
        """Queued emails of these mailboxes, oldest first (the stranded ones of mailboxes gone)."""
        if not mailboxes:
            return []
        rows = await (
            EmailRow.select()
            .where((EmailRow.state == EmailState.QUEUED) & EmailRow.mailbox.is_in(mailboxes))
            .order_by(EmailRow.id)
            .limit(limit)
        )
        return [self._email(r) for r in rows]

    async def view(self, email: Email) -> MessageView:
        """The message of ``email``: for one that went out, what was sent; else what is stored."""
        if written_to_file(email) and email.provider_message_id:
            path = email.provider_message_id
            raw = await asyncio.to_thread(_read_eml, path)
            if raw is not None:
                headers, text, markup = _parts(raw)
                note = f"Written to a file, not sent to anyone: {path}. This is that file."
                return MessageView(
                    source="file", note=note, headers=headers, text=text, html=markup, path=path
                )
        if email.state in WENT_OUT:
            try:
                return await self._rebuilt(email)
            except Exception:  # a plugin's preparer failed: the stored message still shows
                log.exception("email_view_rebuild_failed", email_id=email.id)
        headers, text, markup = _parts(mime_bytes(self._outgoing(email)))
        headers = [(name, value) for name, value in headers if name.lower() != "date"]
        if email.state in WENT_OUT:
            note = (
                "Shown as stored: the headers and footer the compliance checks added when it was "
                "sent could not be rebuilt (the log says why)."
            )
        else:
            note = (
                "Not sent yet: the List-Unsubscribe headers, the footer and any tracked links that "
                "the compliance checks add are not known until it goes out, so they are not shown."
            )
        return MessageView(source="stored", note=note, headers=headers, text=text, html=markup)

    def _outgoing(self, email: Email) -> OutgoingMessage:
        from .outbox.messages import outgoing

        reply_to = None
        if email.mailbox in self._rt.mailboxes.names():
            reply_to = self._rt.mailboxes.settings_of(email.mailbox or "").reply_to
        return outgoing(email, reply_to=reply_to)

    async def _rebuilt(self, email: Email) -> MessageView:
        """The message as its sender built it: the stored row, then every compliance preparer."""
        from ..protocols import MessagePreparer
        from .outbox.planner import compliance_context

        message = self._outgoing(email)
        if email.mailbox in self._rt.mailboxes.names():
            context = compliance_context(
                self._rt,
                email,
                lead=None,
                now=email.sent_at or self._rt.clock(),
                public_url=public_url(self._rt.settings),
                dry_run=True,
                suppressed=False,
            )
            for check in self._rt.plugins.compliance_checks:
                if isinstance(check, MessagePreparer):
                    message = await check.prepare(message, context)
        headers, text, markup = _parts(mime_bytes(message))
        sent = f"{email.sent_at:%a, %d %b %Y %H:%M:%S +0000}" if email.sent_at else ""
        headers = [(name, sent if name.lower() == "date" else value) for name, value in headers]
        note = (
            f"Sent through {email.sender_backend or 'its sender'}. Rebuilt from the stored email the way "
            "the sender built it, with the compliance headers and footer that today's settings make."
        )
        return MessageView(source="rebuilt", note=note, headers=headers, text=text, html=markup)

    async def mark_unsubscribed(self, email_id: int) -> None:
        """Record that the recipient unsubscribed through this email (the first time counts)."""
        async with write_transaction():
            await EmailRow.update({EmailRow.unsubscribed_at: utcnow()}).where(
                (EmailRow.id == email_id) & EmailRow.unsubscribed_at.is_null()
            )

    async def count_by_state(self) -> dict[str, int]:
        """How many emails are in each state (every state present, zeros included)."""
        counts = dict.fromkeys(EmailState, 0)
        for row in await EmailRow.raw("SELECT state, COUNT(*) AS n FROM emails GROUP BY state"):
            counts[row["state"]] = row["n"]
        return {str(state): n for state, n in counts.items()}

    async def transition(
        self,
        email_id: int,
        new_state: str,
        *,
        actor: str,
        expected_version: int | None = None,
        reason: str | None = None,
        changes: dict[str, Any] | None = None,
    ) -> Email:
        """Move one email to ``new_state``; see :func:`apply_transition`."""
        async with write_transaction():
            email, old = await self.transition_in_transaction(
                email_id,
                new_state,
                actor=actor,
                expected_version=expected_version,
                reason=reason,
                changes=changes,
            )
        self.notify(email, old, new_state, actor)
        return email

    async def transition_in_transaction(
        self,
        email_id: int,
        new_state: str,
        *,
        actor: str,
        expected_version: int | None = None,
        reason: str | None = None,
        changes: dict[str, Any] | None = None,
    ) -> tuple[Email, str]:
        """Like :meth:`transition` inside the caller's transaction; call :meth:`notify` after commit."""
        row, old = await apply_transition(
            EmailRow,
            EMAIL_MACHINE,
            "state",
            email_id,
            new_state,
            actor=actor,
            expected_version=expected_version,
            changes=email_columns(changes or {}, self._rt.vault),
            audit_changes=changes,
            reason=reason,
        )
        return self._email(row), old

    def notify(self, email: Email, old_state: str, new_state: str, actor: str) -> None:
        """Fire ``email_transitioned`` (after the commit)."""
        self._rt.plugins.notify(
            "email_transitioned", email=email, old_state=old_state, new_state=new_state, actor=actor
        )

    async def defer_in_transaction(self, email: Email, until: datetime | None, reason: str | None) -> bool:
        """Move a queued email's due time (version checked, audited); False if it changed meanwhile."""
        rows = await (
            EmailRow.update(
                {
                    EmailRow.due_at: until,
                    EmailRow.last_error: reason,
                    EmailRow.version: email.version + 1,
                    EmailRow.updated_at: utcnow(),
                }
            )
            .where(
                (EmailRow.id == email.id) & (EmailRow.version == email.version) & (EmailRow.state == "queued")
            )
            .returning(EmailRow.id)
        )
        if rows:
            await audit.record(
                "email",
                email.id,
                "deferred",
                "system:outbox",
                new={"due_at": until.isoformat() if until else None, "reason": reason},
            )
        return bool(rows)
