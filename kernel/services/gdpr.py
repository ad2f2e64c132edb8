"""The rights of the people outreach writes to: a copy of their data, and its erasure.

Everything held about an address is found through its keyed hash: the leads with
that address, every email written to it (and the other emails of those leads), the
messages that came back from it or about it, their opens and clicks, the suppression
entry, and the audit rows of all of these.

:func:`export_data` gives all of it as plain data (personal data decrypted, the
enrichment included). :func:`erase_data` deletes it everywhere, blanks the values
of its audit rows (who did what, and when, stays), keeps only the keyed hash on the
suppression list so the address is never mailed again, writes one audit row that
names no address, and lets plugins drop their own copies (``address_erased``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from ..models import AuditEntry
from ..self_update import database_backups
from ..store.engine import checkpoint, read_transaction, write_transaction
from ..store.mapping import (
    audit_from_row,
    email_from_row,
    enrollment_from_row,
    inbound_from_row,
    lead_from_row,
    suppression_from_row,
    tracking_event_from_row,
)
from ..store.tables import (
    AuditRow,
    EmailRow,
    EnrollmentRow,
    InboundMessageRow,
    LeadRow,
    LeadTagRow,
    SuppressionRow,
    TrackingEventRow,
)
from . import audit
from .suppressions import normalize_address

if TYPE_CHECKING:
    from ..runtime import Runtime

log = structlog.get_logger("outreach.gdpr")

#: What an erased audit row's values become.
ERASED = {"erased": True}


class Holdings(msgspec.Struct, kw_only=True):
    """The ids of every record that concerns one address."""

    leads: list[int] = []
    emails: list[int] = []
    inbound: list[int] = []
    suppressions: list[int] = []
    message_ids: list[str] = []

    def audited(self) -> list[tuple[str, list[int]]]:
        """``(entity, ids)`` pairs whose audit rows concern the address."""
        return [
            ("lead", self.leads),
            ("email", self.emails),
            ("inbound", self.inbound),
            ("suppression", self.suppressions),
        ]


class ErasureReport(msgspec.Struct, kw_only=True):
    """How many records an erasure removed (no address in it)."""

    leads: int = 0
    emails: int = 0
    inbound_messages: int = 0
    tracking_events: int = 0
    audit_rows: int = 0


def _ids(rows: list[dict[str, Any]], column: str = "id") -> list[int]:
    return sorted({row[column] for row in rows if row[column] is not None})


async def find_holdings(rt: Runtime, digest: str | None, lead_id: int | None = None) -> Holdings:
    """Every record held about the address with keyed hash ``digest`` (and about lead ``lead_id``)."""
    clause = LeadRow.email_hash == digest if digest else None
    if lead_id is not None:
        clause = LeadRow.id == lead_id if clause is None else clause | (LeadRow.id == lead_id)
    leads = _ids(await LeadRow.select(LeadRow.id).where(clause)) if clause is not None else []
    email_rows = await EmailRow.select(EmailRow.id, EmailRow.message_id).where(
        (EmailRow.to_hash == (digest or "-")) | EmailRow.lead.is_in(leads or [-1])
    )
    emails = _ids(email_rows)
    inbound = _ids(
        await InboundMessageRow.select(InboundMessageRow.id).where(
            (InboundMessageRow.address_hash == (digest or "-"))
            | InboundMessageRow.lead.is_in(leads or [-1])
            | InboundMessageRow.email.is_in(emails or [-1])
        )
    )
    suppressions = _ids(
        await SuppressionRow.select(SuppressionRow.id).where(SuppressionRow.email_hash == (digest or "-"))
    )
    return Holdings(
        leads=leads,
        emails=emails,
        inbound=inbound,
        suppressions=suppressions,
        message_ids=[row["message_id"] for row in email_rows if row["message_id"]],
    )


async def _subject(rt: Runtime, address: str | None, lead_id: int | None) -> tuple[str | None, str | None]:
    """The address (checked) and its keyed hash: the one given, or the lead's own."""
    if address is None and lead_id is not None:
        address = (await rt.leads.get(lead_id)).email
    if address is None:
        return None, None
    address = normalize_address(address)
    return address, rt.vault.hash_email(address)


async def _audit_rows(holdings: Holdings) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    for entity, ids in holdings.audited():
        if ids:
            rows = await (
                AuditRow.select()
                .where((AuditRow.entity == entity) & AuditRow.entity_id.is_in(ids))
                .order_by(AuditRow.id)
            )
            entries.extend(audit_from_row(row) for row in rows)
    return sorted(entries, key=lambda entry: entry.id)


async def export_data(
    rt: Runtime, *, address: str | None = None, lead_id: int | None = None
) -> dict[str, Any]:
    """All data held about ``address`` (or about lead ``lead_id`` and its address), JSON-ready."""
    address, digest = await _subject(rt, address, lead_id)
    async with read_transaction():
        held = await find_holdings(rt, digest, lead_id)
        vault = rt.vault
        leads = [
            lead_from_row(r, vault)
            for r in await LeadRow.select().where(LeadRow.id.is_in(held.leads or [-1]))
        ]
        emails = [
            email_from_row(r, vault)
            for r in await EmailRow.select()
            .where(EmailRow.id.is_in(held.emails or [-1]))
            .order_by(EmailRow.id)
        ]
        enrollments = [
            enrollment_from_row(r)
            for r in await EnrollmentRow.select().where(EnrollmentRow.lead.is_in(held.leads or [-1]))
        ]
        inbound = [
            inbound_from_row(r, vault)
            for r in await InboundMessageRow.select()
            .where(InboundMessageRow.id.is_in(held.inbound or [-1]))
            .order_by(InboundMessageRow.id)
        ]
        events = [
            tracking_event_from_row(r)
            for r in await TrackingEventRow.select()
            .where(TrackingEventRow.email.is_in(held.emails or [-1]))
            .order_by(TrackingEventRow.id)
        ]
        suppressions = [
            suppression_from_row(r, vault)
            for r in await SuppressionRow.select().where(SuppressionRow.id.is_in(held.suppressions or [-1]))
        ]
        trail = await _audit_rows(held)
    return msgspec.to_builtins(
        {
            "address": address,
            "exported_at": rt.clock(),
            "leads": leads,
            "emails": emails,
            "enrollments": enrollments,
            "inbound_messages": inbound,
            "tracking_events": events,
            "suppressions": suppressions,
            "audit": trail,
        }
    )


async def erase_data(
    rt: Runtime, *, address: str | None = None, lead_id: int | None = None, actor: str
) -> ErasureReport:
    """Remove everything held about ``address`` (or lead ``lead_id`` and its address).

    Only the address's keyed hash stays, on the suppression list, so it is never mailed
    again; the audit row this writes names no address.
    """
    address, digest = await _subject(rt, address, lead_id)
    entry_id = None
    async with write_transaction():
        held = await find_holdings(rt, digest, lead_id)
        report = ErasureReport(
            leads=len(held.leads), emails=len(held.emails), inbound_messages=len(held.inbound)
        )
        if held.emails:
            report.tracking_events = await TrackingEventRow.count().where(
                TrackingEventRow.email.is_in(held.emails)
            )
        for entity, ids in held.audited():
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                scrubbed = await (
                    AuditRow.update({AuditRow.old_value: None, AuditRow.new_value: ERASED})
                    .where((AuditRow.entity == entity) & AuditRow.entity_id.is_in(chunk))
                    .returning(AuditRow.id)
                )
                report.audit_rows += len(scrubbed)
        # The foreign key cascades too; deleting the tags first does not depend on it being enforced.
        for start in range(0, len(held.leads), 500):
            await LeadTagRow.delete().where(LeadTagRow.lead.is_in(held.leads[start : start + 500]))
        for table, ids in ((InboundMessageRow, held.inbound), (EmailRow, held.emails), (LeadRow, held.leads)):
            for start in range(0, len(ids), 500):
                await table.delete().where(table.id.is_in(ids[start : start + 500]))  # type: ignore[attr-defined]
        if digest is not None:
            entry_id = await _keep_only_hash(digest)
            await audit.record("suppression", entry_id, "erased", actor, new=msgspec.to_builtins(report))
        else:
            await audit.record("lead", lead_id or 0, "erased", actor, new=msgspec.to_builtins(report))
    # Every table whose rows were deleted or rewritten: their old versions must go too.
    await checkpoint(
        (
            AuditRow._meta.tablename,
            LeadTagRow._meta.tablename,
            InboundMessageRow._meta.tablename,
            TrackingEventRow._meta.tablename,
            EmailRow._meta.tablename,
            LeadRow._meta.tablename,
            SuppressionRow._meta.tablename,
        )
    )
    # A copy kept for a rollback of the desktop app would still hold what was just erased.
    for backup in database_backups(rt.settings.database_path):
        backup.unlink(missing_ok=True)
        log.info("database_backup_removed", path=str(backup), why="an erasure")
    rt.plugins.notify("address_erased", message_ids=held.message_ids, context=rt.plugins.context)
    log.info("data_erased", suppression_id=entry_id, **msgspec.to_builtins(report))
    return report


async def _keep_only_hash(digest: str) -> int:
    """The suppression entry of ``digest``, its address emptied (made if there was none); its id."""
    entry = await SuppressionRow.select(SuppressionRow.id).where(SuppressionRow.email_hash == digest).first()
    if entry is None:
        inserted = await SuppressionRow.insert(
            SuppressionRow(email_hash=digest, email=None, reason="erased", source="gdpr erase")
        ).returning(SuppressionRow.id)
        return int(inserted[0]["id"])
    await SuppressionRow.update({SuppressionRow.email: None}).where(SuppressionRow.id == entry["id"])
    return int(entry["id"])
