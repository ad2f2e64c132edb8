"""Outgoing emails: reading them and changing their state."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import NotFound
from ..models import Email, Page
from ..states import EMAIL_MACHINE, EmailState
from ..store.engine import write_transaction
from ..store.mapping import email_columns, email_from_row
from ..store.tables import EmailRow
from . import audit
from .transitions import apply_transition, utcnow

if TYPE_CHECKING:
    from ..runtime import Runtime


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
