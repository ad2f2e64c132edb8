"""Inbound mail: each message read from a reply source analyzed, stored once, matched, and acted on.

:meth:`InboundService.process` is the whole path of one message: the analysis
(bounce, auto-reply or reply, and a category from the reply classifiers), a check
that it was not seen before (by Message-ID, or by its bytes when it has none), the
match to our email (:mod:`.inbound_match`), the row (who wrote and what, encrypted),
and its effects (:mod:`.inbound_effects`), all in one transaction: a crash leaves
either everything or nothing, and the source hands the message over again. Effects
that fail are undone alone: the row is kept ``applied = false`` and tried again on a
later poll, so one bad message never holds up the mail behind it.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from ..contracts import InboundMessage
from ..errors import NotFound
from ..mail.analysis import MailAnalysis, analyze_message
from ..models import InboundRecord, Page
from ..store.engine import read_transaction, write_transaction
from ..store.mapping import inbound_columns, inbound_from_row
from ..store.tables import InboundMessageRow, LeadRow
from . import audit
from .inbound_effects import ACTOR, Effects, apply_effects
from .inbound_match import Match, match_message
from .transitions import utcnow

if TYPE_CHECKING:
    from ..runtime import Runtime

log = structlog.get_logger("outreach.inbound")

#: A row whose effects failed is tried again after this long.
STALE_AFTER = timedelta(seconds=60)
#: What an inbound message can be: a notice is a delivery receipt or a newsletter (no effect).
KINDS = ("reply", "auto_reply", "bounce", "notice")


def fingerprint(raw: bytes, message_id: str | None) -> str:
    """What makes two copies of a message the same: its Message-ID, or its bytes without one."""
    basis = f"id:{message_id.strip().lower()}".encode() if message_id else b"raw:" + raw
    return hashlib.sha256(basis).hexdigest()


def _detail(analysis: MailAnalysis, match: Match) -> dict[str, Any]:
    """What the row keeps besides its columns; never an address (those stay encrypted)."""
    detail: dict[str, Any] = {}
    if analysis.bounce is not None:
        detail["ours"] = match.recipient is not None
        detail["recipients"] = [
            {"status": r.status, "reply_code": r.reply_code, "reason": r.reason, "hard": r.hard}
            for r in analysis.bounce.recipients
        ]
        detail["original_message_id"] = analysis.bounce.original_message_id
    if analysis.auto_reply is not None:
        detail["auto_reply"] = analysis.auto_reply.subtype
    if analysis.category is not None:
        detail["classifier"] = analysis.category.classifier
        detail["confidence"] = analysis.category.confidence
    return detail


def _bounce_class(analysis: MailAnalysis, match: Match) -> str | None:
    if analysis.bounce is None:
        return None
    if match.recipient is not None:
        return "hard" if match.recipient.hard else "soft"
    return analysis.bounce.classification


class InboundService:
    """Processes inbound messages and reads them back for the replies inbox."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def _record(self, row: dict[str, Any]) -> InboundRecord:
        return inbound_from_row(row, self._rt.vault)

    async def process(self, message: InboundMessage) -> InboundRecord | None:
        """Analyze, store, match and act on one message; None when it was already processed."""
        analysis = await analyze_message(message.raw, list(self._rt.plugins.reply_classifiers))
        mail = analysis.mail
        key = fingerprint(message.raw, mail.message_id)
        async with read_transaction():
            if await InboundMessageRow.exists().where(InboundMessageRow.fingerprint == key):
                log.info("inbound_skipped", source=message.source, uid=message.uid)
                return None
            match = await match_message(self._rt, analysis)
            analysis = await self._in_the_leads_country(message.raw, analysis, match)
        email = match.email
        values = {
            "fingerprint": key,
            "source": message.source[:255],
            "uid": message.uid,
            "message_id": (mail.message_id or "")[:512] or None,
            "kind": analysis.kind,
            "category": analysis.category.category if analysis.category else None,
            "return_date": analysis.category.return_date if analysis.category else None,
            "bounce_class": _bounce_class(analysis, match),
            "address": match.address,
            "subject": mail.subject,
            "body": mail.text,
            "reply_text": analysis.reply_text,
            "email": email.id if email else None,
            "lead": email.lead_id if email else None,
            "matched_by": match.matched_by,
            "detail": _detail(analysis, match),
            "received_at": message.received_at or mail.date or utcnow(),
        }
        async with write_transaction() as transaction:
            # Checked again under the write lock: two workers reading one mailbox store it once.
            if await InboundMessageRow.exists().where(InboundMessageRow.fingerprint == key):
                return None
            rows = await InboundMessageRow.insert(
                InboundMessageRow(**inbound_columns(values, self._rt.vault))
            ).returning(*InboundMessageRow.all_columns())
            record = self._record(rows[0])
            await audit.record(
                "inbound",
                record.id,
                "received",
                ACTOR,
                new={
                    "kind": record.kind,
                    "category": record.category,
                    "email_id": record.email_id,
                    "matched_by": record.matched_by,
                    "source": record.source,
                },
            )
            effects = await self._apply(record, transaction)
        if effects is not None:
            effects.notify(self._rt)
        log.info(
            "inbound_processed",
            inbound_id=record.id,
            kind=record.kind,
            category=record.category,
            email_id=record.email_id,
            matched_by=record.matched_by,
            applied=effects is not None,
        )
        return msgspec.structs.replace(record, applied=effects is not None)

    async def _in_the_leads_country(self, raw: bytes, analysis: MailAnalysis, match: Match) -> MailAnalysis:
        """An out-of-office read again knowing the lead's country, which says how they write dates."""
        if analysis.kind != "auto_reply" or match.email is None or match.email.lead_id is None:
            return analysis
        row = await LeadRow.select(LeadRow.country_code).where(LeadRow.id == match.email.lead_id).first()
        country = row["country_code"] if row else None
        if not country:
            return analysis
        return await analyze_message(raw, list(self._rt.plugins.reply_classifiers), country_code=country)

    async def _apply(self, record: InboundRecord, transaction: Any) -> Effects | None:
        """Apply ``record``'s effects in ``transaction`` and mark it applied; on failure undo them
        (the row stays, unapplied, for :meth:`finish_interrupted`) and return None."""
        savepoint = await transaction.savepoint()
        try:
            effects = await apply_effects(self._rt, record)
            await InboundMessageRow.update(
                {InboundMessageRow.applied: True, InboundMessageRow.updated_at: utcnow()}
            ).where(InboundMessageRow.id == record.id)
            if effects.done:
                await audit.record("inbound", record.id, "applied", ACTOR, new={"effects": effects.done})
        except Exception:  # a message that cannot be acted on must not block the mailbox behind it
            await savepoint.rollback_to()
            log.exception("inbound_effects_failed", inbound_id=record.id)
            return None
        await savepoint.release()
        return effects

    async def finish_interrupted(self) -> int:
        """Apply the effects of messages stored but never acted on (their effects failed); how many."""
        cutoff = utcnow() - STALE_AFTER
        rows = await InboundMessageRow.select(InboundMessageRow.id).where(
            InboundMessageRow.applied.eq(False) & (InboundMessageRow.created_at < cutoff)
        )
        finished = 0
        for row in rows:
            async with write_transaction() as transaction:
                current = (
                    await InboundMessageRow.select()
                    .where((InboundMessageRow.id == row["id"]) & InboundMessageRow.applied.eq(False))
                    .first()
                )
                effects = await self._apply(self._record(current), transaction) if current else None
            if effects is not None:
                effects.notify(self._rt)
                finished += 1
        return finished

    async def get(self, inbound_id: int) -> InboundRecord:
        """One message; :class:`NotFound` if there is none."""
        row = await InboundMessageRow.select().where(InboundMessageRow.id == inbound_id).first()
        if row is None:
            raise NotFound(f"There is no inbound message with id {inbound_id}.")
        return self._record(row)

    async def list(
        self, *, category: str | None = None, kind: str | None = None, page: int = 1, per_page: int = 50
    ) -> Page:
        """One page of messages, newest first, optionally of one category or kind."""
        per_page, page = max(1, min(per_page, 200)), max(1, page)
        select, count = InboundMessageRow.select(), InboundMessageRow.count()
        for column, value in ((InboundMessageRow.category, category), (InboundMessageRow.kind, kind)):
            if value:
                select, count = select.where(column == value), count.where(column == value)
        rows = (
            await select.order_by(InboundMessageRow.id, ascending=False)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        return Page(items=[self._record(r) for r in rows], total=await count, page=page, per_page=per_page)

    async def for_lead(self, lead_id: int) -> list[InboundRecord]:
        """Every message matched to one lead, oldest first."""
        rows = await (
            InboundMessageRow.select().where(InboundMessageRow.lead == lead_id).order_by(InboundMessageRow.id)
        )
        return [self._record(r) for r in rows]

    async def counts(self) -> dict[str, int]:
        """Messages by category (replies and auto-replies) and by kind (``bounce``...)."""
        rows = await InboundMessageRow.raw(
            "SELECT kind, category, COUNT(*) AS n FROM inbound_messages GROUP BY kind, category"
        )
        counts: dict[str, int] = {}
        for row in rows:
            counts[f"kind:{row['kind']}"] = counts.get(f"kind:{row['kind']}", 0) + int(row["n"])
            if row["category"]:
                counts[row["category"]] = counts.get(row["category"], 0) + int(row["n"])
        return counts
