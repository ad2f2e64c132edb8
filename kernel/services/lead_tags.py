"""Tags on leads: normalizing them, reading them in batches, adding and removing them (audited).

A tag is lower-case, trimmed, at most :data:`MAX_TAG` characters of letters, digits,
``-``, ``_`` and single spaces. Tags live in ``lead_tags`` (one row per lead and tag),
so a lead carries each tag once and a filter by tag is one indexed look-up.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import msgspec
from piccolo.columns.combination import WhereRaw

from ..errors import InvalidInput
from ..store.engine import write_transaction
from ..store.filters import in_values
from ..store.tables import LeadRow, LeadTagRow
from . import audit

#: The longest tag, in characters.
MAX_TAG = 40
#: The most tags one request may add or remove.
MAX_TAGS_PER_CHANGE = 50
_ALLOWED = re.compile(r"[\w\- ]+")
_CHUNK = 500


class TagChange(msgspec.Struct, kw_only=True):
    """The outcome of a tag change: the leads whose tags changed, and why the rest did not."""

    changed: list[int] = []
    skipped: dict[int, str] = {}


def normalize_tag(value: str) -> str:
    """``value`` as a stored tag (lower-case, trimmed, inner spaces collapsed).

    :raises InvalidInput: when it is empty, too long or has characters other than
        letters, digits, ``-``, ``_`` and spaces.
    """
    tag = " ".join(str(value).split()).lower()
    if not tag:
        raise InvalidInput("A tag cannot be empty.")
    if len(tag) > MAX_TAG:
        raise InvalidInput(f"The tag '{tag[:MAX_TAG]}…' is longer than {MAX_TAG} characters.")
    # \w also matches "_" and digits; letters of any script are welcome.
    if not _ALLOWED.fullmatch(tag):
        raise InvalidInput(f"The tag '{tag}' may hold only letters, digits, '-', '_' and spaces.")
    return tag


def normalize_tags(values: Iterable[str]) -> list[str]:
    """Every tag of ``values`` normalized, each once, in the order given."""
    tags = list(dict.fromkeys(normalize_tag(value) for value in values))
    if len(tags) > MAX_TAGS_PER_CHANGE:
        raise InvalidInput(f"At most {MAX_TAGS_PER_CHANGE} tags can change at once.")
    return tags


def split_tags(text: str | None) -> list[str]:
    """The tags typed in one field, separated by commas (blank parts ignored)."""
    return [part for part in (text or "").split(",") if part.strip()]


def tag_clause(tag: str) -> WhereRaw:
    """The lead carries ``tag`` (normalized first; a bad tag raises :class:`InvalidInput`)."""
    return WhereRaw("leads.id IN (SELECT lead FROM lead_tags WHERE tag = {})", normalize_tag(tag))


async def tags_of(lead_ids: Iterable[int]) -> dict[int, list[str]]:
    """The tags of each of ``lead_ids``, sorted; leads without tags are left out."""
    ids = list(lead_ids)
    found: dict[int, list[str]] = defaultdict(list)
    for start in range(0, len(ids), _CHUNK):
        rows = await LeadTagRow.select(LeadTagRow.lead, LeadTagRow.tag).where(
            in_values(LeadTagRow.lead, ids[start : start + _CHUNK])
        )
        for row in rows:
            found[row["lead"]].append(row["tag"])
    return {lead_id: sorted(tags) for lead_id, tags in found.items()}


async def all_tags(limit: int = 500) -> list[str]:
    """Every tag in use, sorted (for the filter's suggestions)."""
    rows = await LeadTagRow.select(LeadTagRow.tag).distinct().order_by(LeadTagRow.tag).limit(limit)
    return [row["tag"] for row in rows]


async def change_tags(
    lead_ids: Iterable[int],
    *,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    actor: str,
) -> TagChange:
    """Add ``add`` to and remove ``remove`` from every lead of ``lead_ids``, in one transaction.

    Each lead whose tags changed gets one audit row with its tags before and after;
    missing leads are skipped with a reason.
    """
    adding, removing = normalize_tags(add), normalize_tags(remove)
    if not adding and not removing:
        raise InvalidInput("Say which tags to add or remove.")
    both = set(adding) & set(removing)
    if both:
        raise InvalidInput(f"The tag '{sorted(both)[0]}' cannot be added and removed at once.")
    ids = sorted(set(lead_ids))
    result = TagChange()
    rows: list[audit.AuditValues] = []
    async with write_transaction():
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            existing = {r["id"] for r in await LeadRow.select(LeadRow.id).where(in_values(LeadRow.id, chunk))}
            for lead_id in chunk:
                if lead_id not in existing:
                    result.skipped[lead_id] = "no such lead"
            before = await tags_of(existing)
            inserts: list[LeadTagRow] = []
            for lead_id in sorted(existing):
                old = before.get(lead_id, [])
                new = sorted((set(old) | set(adding)) - set(removing))
                if new == old:
                    continue
                inserts.extend(LeadTagRow(lead=lead_id, tag=tag) for tag in adding if tag not in old)
                result.changed.append(lead_id)
                rows.append(
                    audit.audit_values("lead", lead_id, "tags", actor, {"tags": old}, _change(new, old))
                )
            if removing and existing:
                await LeadTagRow.delete().where(
                    in_values(LeadTagRow.lead, sorted(existing)) & LeadTagRow.tag.is_in(removing)
                )
            for part in range(0, len(inserts), _CHUNK):
                await LeadTagRow.insert(*inserts[part : part + _CHUNK])
        await audit.record_many(rows)
    return result


def _change(new: list[str], old: list[str]) -> dict[str, Any]:
    return {
        "tags": new,
        "added": sorted(set(new) - set(old)),
        "removed": sorted(set(old) - set(new)),
    }
