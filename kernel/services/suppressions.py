"""The suppression list: addresses that must never be mailed, kept even after an erasure.

An entry holds the address encrypted and its keyed hash; look-ups go by the hash, so
an entry whose address was erased still blocks it. Every addition and removal is
audited with its actor (the address itself never enters the audit log).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput, NotFound
from ..models import Page, Suppression
from ..store.engine import write_transaction
from ..store.mapping import suppression_from_row
from ..store.tables import SuppressionRow
from . import audit

if TYPE_CHECKING:
    from ..runtime import Runtime

#: Why an address is suppressed; other services may use their own words (``complained``...).
REASONS = ("manual", "unsubscribed", "bounced", "complained")

_ADDRESS = re.compile(r"^[^@\s<>(),;:\"]+@[^@\s<>(),;:\"]+\.[^@\s<>(),;:\"]+$")


def normalize_address(email: str) -> str:
    """The address trimmed; :class:`InvalidInput` if it is not an email address."""
    address = (email or "").strip()
    if not _ADDRESS.match(address) or len(address) > 320:
        raise InvalidInput(f"'{address[:80]}' is not an email address; write it as name@example.com.")
    return address


async def is_hash_suppressed(digest: str | None) -> bool:
    """Whether the address with keyed hash ``digest`` is on the list."""
    if digest is None:
        return False
    row = await SuppressionRow.select(SuppressionRow.id).where(SuppressionRow.email_hash == digest).first()
    return row is not None


class SuppressionService:
    """Adds, removes and answers questions about suppressed addresses."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def _entry(self, row: dict[str, Any]) -> Suppression:
        return suppression_from_row(row, self._rt.vault)

    async def add(
        self, email: str, *, reason: str = "manual", source: str | None = None, actor: str
    ) -> Suppression:
        """Suppress ``email``; an address already on the list keeps its entry unchanged."""
        address = normalize_address(email)
        reason = (reason or "manual").strip()[:64] or "manual"
        digest = self._rt.vault.hash_email(address)
        async with write_transaction():
            existing = await SuppressionRow.select().where(SuppressionRow.email_hash == digest).first()
            if existing is not None:
                return self._entry(existing)
            rows = await SuppressionRow.insert(
                SuppressionRow(
                    email_hash=digest,
                    email=self._rt.vault.encrypt(address),
                    reason=reason,
                    source=source,
                )
            ).returning(*SuppressionRow.all_columns())
            entry = self._entry(rows[0])
            await audit.record(
                "suppression",
                entry.id,
                "added",
                actor,
                new={"email": address, "reason": reason, "source": source},
            )
        return entry

    async def get(self, suppression_id: int) -> Suppression:
        """One entry; :class:`NotFound` if there is none."""
        row = await SuppressionRow.select().where(SuppressionRow.id == suppression_id).first()
        if row is None:
            raise NotFound(f"There is no suppression with id {suppression_id}.")
        return self._entry(row)

    async def remove(self, suppression_id: int, *, actor: str) -> Suppression:
        """Take an entry off the list (the address may be mailed again); return what was removed."""
        async with write_transaction():
            entry = await self.get(suppression_id)
            if entry.email is None:
                raise InvalidInput(
                    f"Suppression {suppression_id} keeps an erased address from ever being mailed again; "
                    "it cannot be removed."
                )
            await SuppressionRow.delete().where(SuppressionRow.id == suppression_id)
            await audit.record(
                "suppression",
                suppression_id,
                "removed",
                actor,
                old={"email": entry.email, "reason": entry.reason, "source": entry.source},
            )
        return entry

    async def is_suppressed(self, email: str | None) -> bool:
        """Whether ``email`` is on the list (matched by keyed hash, so case and spaces do not matter)."""
        return await is_hash_suppressed(self._rt.vault.hash_email(email))

    async def list(self, *, reason: str | None = None, page: int = 1, per_page: int = 50) -> Page:
        """One page of entries, newest first, optionally with one reason."""
        per_page = max(1, min(per_page, 500))
        page = max(1, page)
        select, count = SuppressionRow.select(), SuppressionRow.count()
        if reason:
            select = select.where(SuppressionRow.reason == reason)
            count = count.where(SuppressionRow.reason == reason)
        rows = (
            await select.order_by(SuppressionRow.id, ascending=False)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        return Page(items=[self._entry(r) for r in rows], total=await count, page=page, per_page=per_page)
