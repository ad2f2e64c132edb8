"""Finding the stored lead a discovered business already is under another source's id,
and the list of every source that found a lead.

The rule itself is :func:`~outreach.kernel.same_business.same_business`; here the
candidates are read: one indexed look-up by normalized name, only the compared columns.
"""

from __future__ import annotations

from typing import Any

from ..contracts import DiscoveredBusiness
from ..crypto import Vault
from ..models import Lead
from ..same_business import StoredPlace, name_key, same_business
from ..store.tables import LeadRow

#: The most leads of one normalized name compared with a discovered business.
CANDIDATE_LIMIT = 500

#: The columns read from each candidate.
_MATCH_COLUMNS = (
    LeadRow.id,
    LeadRow.business_name,
    LeadRow.website_url,
    LeadRow.latitude,
    LeadRow.longitude,
    LeadRow.phone,
    LeadRow.place_id,
)


async def same_business_row(business: DiscoveredBusiness, vault: Vault) -> dict[str, Any] | None:
    """The row of the lead that ``business`` is under another source's id, if any."""
    key = name_key(business.business_name)
    if not key:
        return None
    candidates = await (
        LeadRow.select(*_MATCH_COLUMNS)
        .where(LeadRow.name_key == key)
        .order_by(LeadRow.id)
        .limit(CANDIDATE_LIMIT)
    )
    for candidate in candidates:
        seen = StoredPlace(
            business_name=candidate["business_name"],
            website_url=candidate["website_url"],
            latitude=candidate["latitude"],
            longitude=candidate["longitude"],
            phone=vault.decrypt(candidate["phone"]),
            place_id=candidate["place_id"],
        )
        if same_business(business, seen):
            return await LeadRow.select().where(LeadRow.id == candidate["id"]).first()
    return None


def sources_with(current: Lead, source: str) -> list[str]:
    """Every source that found ``current``, ``source`` added at the end if it is new."""
    sources = list(current.discovery_metadata.get("sources") or [])
    if not sources and current.discovery_source:
        # A lead stored before sources were listed: its one source so far.
        sources.append(current.discovery_source)
    if source not in sources:
        sources.append(source)
    return sources
