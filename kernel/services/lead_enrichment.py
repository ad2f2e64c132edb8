"""Storing what enrichers learned about a lead: its records and the fields they set."""

from __future__ import annotations

from typing import Any

import msgspec

from ..crypto import Vault
from ..errors import ConcurrentUpdate
from ..models import EnrichmentRecord, Lead
from ..store.engine import write_transaction
from ..store.mapping import enrichment_column, lead_columns
from ..store.tables import LeadRow
from . import audit
from .transitions import utcnow

#: Lead fields an enricher may set through ``Enrichment.lead_fields``.
ENRICHABLE_FIELDS = ("email", "phone", "contact_name", "website_url", "score")


async def record_enrichment(
    vault: Vault,
    current: Lead,
    records: list[EnrichmentRecord],
    lead_fields: dict[str, Any],
    *,
    actor: str,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Write ``records`` (each under its enricher's name) and ``lead_fields`` onto ``current``.

    Records replace earlier ones of the same enricher; the store seals their ``data``.
    The update is versioned (a lead changed meanwhile is a :class:`ConcurrentUpdate`)
    and audited with which enrichers ran and which fields changed, personal data
    redacted. Runs inside the caller's transaction when there is one.

    :param lead_fields: values for the lead's own columns, among :data:`ENRICHABLE_FIELDS`.
    :return: the updated row.
    """
    unknown = sorted(set(lead_fields) - set(ENRICHABLE_FIELDS))
    if unknown:
        raise ValueError(f"enrichment cannot set {', '.join(unknown)}")
    if expected_version is not None and current.version != expected_version:
        raise ConcurrentUpdate("lead", current.id, expected_version)
    enrichment = {**current.enrichment, **{record.enricher: record for record in records}}
    columns: dict[Any, Any] = {
        getattr(LeadRow, name): value for name, value in lead_columns(lead_fields, vault).items()
    }
    columns[LeadRow.enrichment] = enrichment_column(enrichment, vault)
    columns[LeadRow.version] = current.version + 1
    columns[LeadRow.updated_at] = utcnow()
    changed = {name: value for name, value in lead_fields.items() if getattr(current, name) != value}
    async with write_transaction():
        updated = await (
            LeadRow.update(columns)
            .where((LeadRow.id == current.id) & (LeadRow.version == current.version))
            .returning(*LeadRow.all_columns())
        )
        if not updated:
            raise ConcurrentUpdate("lead", current.id, current.version)
        await audit.record(
            "lead",
            current.id,
            "enriched",
            actor,
            old={name: _plain(getattr(current, name)) for name in changed},
            new={"enrichers": [record.enricher for record in records], **changed},
        )
    return updated[0]


def _plain(value: Any) -> Any:
    return msgspec.to_builtins(value) if value is not None else None
