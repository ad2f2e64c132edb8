"""Lead filters: exact categories and cities ignoring case, and the full-text index kept in step."""

from __future__ import annotations

import pytest

from outreach.kernel import DiscoveredBusiness
from outreach.kernel.services.leads import LeadQuery
from outreach.kernel.store.tables import LeadRow

# SQLite searches through an FTS5 index, PostgreSQL through pg_trgm: both must agree.
pytestmark = pytest.mark.both_engines


async def _names(rt, **filters) -> list[str]:
    page = await rt.leads.list(LeadQuery(**filters, sort="business_name"))
    return [lead.business_name for lead in page.items]


async def _add(rt, name: str, **fields) -> int:
    lead, _ = await rt.leads.upsert_discovered(DiscoveredBusiness(business_name=name, **fields), "test")
    return lead.id


async def test_the_search_index_follows_inserts_updates_and_deletes(runtime) -> None:
    lead_id = await _add(runtime, "Old Mill Bakery", website_url="https://bread.example")
    assert await _names(runtime, text="mill") == ["Old Mill Bakery"]
    await runtime.leads.update_fields(lead_id, {"business_name": "Riverside Bakery"}, actor="test")
    assert await _names(runtime, text="mill") == []
    assert await _names(runtime, text="riverside bread") == ["Riverside Bakery"]
    await LeadRow.delete().where(LeadRow.id == lead_id)
    assert await _names(runtime, text="riverside") == []


async def test_category_and_city_match_whole_values_ignoring_case(runtime) -> None:
    await _add(runtime, "A", category="Dentist", city="Austin")
    await _add(runtime, "B", category="Dental clinic", location="5 Congress Ave, Austin TX")
    await _add(runtime, "C", category="dentist", city="Boston")
    assert await _names(runtime, category="DENTIST") == ["A", "C"]
    assert await _names(runtime, location="austin") == ["A"]
    assert await _names(runtime, location="aus") == []  # a city is matched whole
    assert await _names(runtime, text="congress austin") == ["B"]  # addresses are free text
    assert await _names(runtime, category="dentist", location="Boston") == ["C"]


@pytest.mark.parametrize(
    "text", ['"', 'a"b OR c', "NEAR(", "*", "x AND", "{category}:", "ü", "%", "_", "日本語の店", "abc\x00def"]
)
async def test_any_text_is_a_search_not_a_query_language(runtime, text) -> None:
    await _add(runtime, "Plain Shop")
    page = await runtime.leads.list(LeadQuery(text=text))
    assert page.total == len(page.items)


async def test_words_match_anywhere_in_any_order(runtime) -> None:
    await _add(runtime, "Smile Dental 12", category="Dentist", location="1 Main St, Dallas")
    await _add(runtime, "Smile Bakery", category="Bakery", location="2 Main St, Dallas")
    assert await _names(runtime, text="dallas dentist") == ["Smile Dental 12"]
    assert await _names(runtime, text="smile 12") == ["Smile Dental 12"]
    assert await _names(runtime, text="SMILE") == ["Smile Bakery", "Smile Dental 12"]
    ids = await runtime.leads.ids_matching(LeadQuery(text="main st"))
    assert len(ids) == 2
