"""Exporting leads to CSV (for Excel) or JSON, a batch at a time, decrypted, and audited.

The rows are read by id in batches of :data:`BATCH`, so an export of 10,000 leads
never holds them all; the personal fields are decrypted with the runtime's vault, for
the person who asked. Every export writes one audit row (entity ``export``) naming
who, the filter, the format and how many rows: never the data.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from ..errors import InvalidInput
from ..models import Lead
from ..store.mapping import lead_from_row
from ..store.tables import LeadRow
from . import audit, lead_tags
from .lead_filters import where

if TYPE_CHECKING:
    from ..runtime import Runtime
    from .leads import LeadQuery

#: Leads read per query.
BATCH = 500
FORMATS = ("csv", "json")
#: The exported fields, in column order, with their CSV headers.
FIELDS = (
    ("business_name", "Business name"),
    ("category", "Category"),
    ("location", "Address"),
    ("city", "City"),
    ("country_code", "Country"),
    ("phone", "Phone"),
    ("email", "Email"),
    ("website_url", "Website"),
    ("rating", "Rating"),
    ("review_count", "Reviews"),
    ("lifecycle_state", "State"),
    ("score", "Score"),
    ("tags", "Tags"),
    ("discovery_source", "Discovery source"),
    ("created_at", "Created"),
)
#: Excel reads a CSV file as UTF-8 only when it starts with this mark.
BOM = "\ufeff"
_COLUMNS = (*(getattr(LeadRow, name) for name, _ in FIELDS if name != "tags"), LeadRow.id)


def check_format(value: str) -> str:
    """``value`` if it is an export format; :class:`InvalidInput` naming the formats if not."""
    if value not in FORMATS:
        raise InvalidInput(f"'{value}' is not an export format; use csv or json.")
    return value


async def leads_for_export(rt: Runtime, query: LeadQuery) -> AsyncIterator[Lead]:
    """Every lead matching ``query``'s filters, by id, decrypted, with tags, a batch at a time."""
    clause = where(query)
    last = 0
    while True:
        condition = LeadRow.id > last
        if clause is not None:
            condition = condition & clause
        rows = await LeadRow.select(*_COLUMNS).where(condition).order_by(LeadRow.id).limit(BATCH)
        if not rows:
            return
        leads = [lead_from_row(row, rt.vault) for row in rows]
        found = await lead_tags.tags_of(lead.id for lead in leads)
        for lead in leads:
            lead.tags = found.get(lead.id, [])
            yield lead
        if len(rows) < BATCH:
            return
        last = rows[-1]["id"]


def export_record(lead: Lead) -> dict[str, Any]:
    """The exported fields of ``lead`` as JSON-ready values."""
    values = {name: getattr(lead, name) for name, _ in FIELDS}
    created = values["created_at"]
    values["created_at"] = created.isoformat() if isinstance(created, datetime) else created
    return values


def _cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name == "tags":
        return ", ".join(value)
    return str(value)


def csv_line(values: list[str]) -> str:
    """One CSV line (Excel's dialect, CRLF)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


class ExportCount(msgspec.Struct):
    """How many leads an export has written so far."""

    rows: int = 0


async def export_chunks(
    rt: Runtime, query: LeadQuery, fmt: str, counted: ExportCount | None = None
) -> AsyncIterator[str]:
    """The export file as text pieces, a batch of leads each (CSV starts with the BOM and its header).

    :param counted: counts the leads written, for the audit row written after the file.
    """
    check_format(fmt)
    counted = counted if counted is not None else ExportCount()
    if fmt == "csv":
        yield BOM + csv_line([header for _, header in FIELDS])
    else:
        yield "["
    first = True
    buffer: list[str] = []
    async for lead in leads_for_export(rt, query):
        record = export_record(lead)
        if fmt == "csv":
            buffer.append(csv_line([_cell(name, record[name]) for name, _ in FIELDS]))
        else:
            buffer.append(("\n  " if first else ",\n  ") + json.dumps(record, ensure_ascii=False))
        first = False
        counted.rows += 1
        if len(buffer) >= BATCH:
            yield "".join(buffer)
            buffer = []
    if buffer:
        yield "".join(buffer)
    if fmt == "json":
        yield "]\n" if first else "\n]\n"


async def count_matching(query: LeadQuery) -> int:
    """How many leads match ``query``'s filters."""
    clause = where(query)
    count = LeadRow.count()
    return await (count.where(clause) if clause is not None else count)


def filter_of(query: LeadQuery) -> dict[str, Any]:
    """The filters of ``query`` that are set (what an export's audit row records)."""
    names = ("state", "category", "location", "min_score", "tag")
    values = msgspec.structs.asdict(query)
    found = {name: values[name] for name in names if values[name] not in (None, "")}
    if values.get("text"):
        # The words searched may be part of an address: the row says a search was made, not what.
        found["text"] = "(a search)"
    return found


async def record_export(query: LeadQuery, fmt: str, rows: int, *, actor: str) -> None:
    """The audit row of one export: who, the filter, the format and the row count."""
    summary = {"filter": filter_of(query), "format": fmt, "rows": rows}
    await audit.record("export", 0, "leads_exported", actor, new=summary)
