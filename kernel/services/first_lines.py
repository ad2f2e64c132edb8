"""A person's own opening line for a lead: written, replaced or cleared in the lead's panel.

The line is stored as the lead's ``first_line`` enrichment record, the record the
``first_line`` enricher writes, with ``edited_by`` and ``edited_at`` in its data. An
enricher keeps such a record as it is (analysis does not overwrite a person), and
:func:`~outreach.kernel.personalize.first_line` prefers it to every other line.
Clearing stores the person's choice of no line: templates then use the plain sentence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConcurrentUpdate, InvalidInput
from ..models import EnrichmentRecord, Lead
from ..personalize import FIRST_LINE_RECORD, edited_first_line
from ..store.engine import write_transaction
from ..store.mapping import enrichment_column, lead_from_row
from ..store.tables import LeadRow
from . import audit
from .transitions import utcnow

if TYPE_CHECKING:
    from ..runtime import Runtime

#: The longest line a person may write, in characters.
MAX_CHARS = 300


def clean_line(text: str | None) -> str | None:
    """``text`` on one line without extra spaces, None when blank; :class:`InvalidInput` when too long."""
    line = " ".join((text or "").split())
    if len(line) > MAX_CHARS:
        raise InvalidInput(
            f"The first line has {len(line)} characters; keep it to {MAX_CHARS}, one sentence is enough."
        )
    return line or None


def _origin(lead: Lead) -> str:
    """Who wrote the line the lead has now: ``person``, ``model`` or ``none``."""
    record = lead.enrichment.get(FIRST_LINE_RECORD)
    if record is None or not isinstance(record.data.get("first_line"), str):
        return "none"
    return "person" if edited_first_line(lead) else "model"


async def edit_first_line(
    rt: Runtime, lead_id: int, text: str | None, *, actor: str, expected_version: int | None = None
) -> Lead:
    """Store ``text`` as the lead's first line (blank clears it), versioned and audited.

    :param expected_version: the version the person saw; a lead changed since is a
        :class:`ConcurrentUpdate`.
    """
    line = clean_line(text)
    current = await rt.leads.get(lead_id)
    if expected_version is not None and current.version != expected_version:
        raise ConcurrentUpdate("lead", lead_id, expected_version)
    now = utcnow()
    record = EnrichmentRecord(
        enricher=FIRST_LINE_RECORD,
        data={"first_line": line, "edited_by": actor, "edited_at": now.isoformat()},
        confidence=1.0 if line else 0.0,
        source="person",
        at=now,
    )
    enrichment = {**current.enrichment, FIRST_LINE_RECORD: record}
    async with write_transaction():
        updated = await (
            LeadRow.update(
                {
                    LeadRow.enrichment: enrichment_column(enrichment, rt.vault),
                    LeadRow.version: current.version + 1,
                    LeadRow.updated_at: now,
                }
            )
            .where((LeadRow.id == lead_id) & (LeadRow.version == current.version))
            .returning(*LeadRow.all_columns())
        )
        if not updated:
            raise ConcurrentUpdate("lead", lead_id, current.version)
        # The words stay out of the log, as enrichment data stays sealed: a line may name a person.
        await audit.record(
            "lead",
            lead_id,
            "first_line_edited" if line else "first_line_cleared",
            actor,
            old={"first_line": _origin(current)},
            new={"first_line": "person" if line else "none", "words": len(line.split()) if line else 0},
        )
    return lead_from_row(updated[0], rt.vault)
