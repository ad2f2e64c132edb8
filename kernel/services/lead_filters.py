"""The WHERE clause of a lead list: state, category, location, minimum score, tag and free text.

On SQLite the clauses are shaped for the indexes of the review page (migration
``2026-11-26T10:26``): category and city (the location filter) compare whole values
ignoring case through ``COLLATE NOCASE`` indexes, and free text goes through
``leads_search``, an FTS5 trigram index over name, category, address, city and
website, so a substring search over 100,000 leads does not scan the table. On
PostgreSQL the same migration makes ``lower()`` indexes for the filters and pg_trgm
GIN indexes that serve each word's ``ILIKE '%word%'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from piccolo.columns.combination import WhereRaw

from ..store.tables import LeadRow
from .lead_tags import tag_clause

if TYPE_CHECKING:
    from .leads import LeadQuery

#: The trigram index matches substrings of at least this many characters.
TRIGRAM = 3
_TEXT_COLUMNS = (LeadRow.business_name, LeadRow.category, LeadRow.location, LeadRow.city, LeadRow.website_url)


def _sqlite() -> bool:
    return getattr(LeadRow._meta.db, "engine_type", "") == "sqlite"


def _contains(column: Any, text: str) -> Any:
    """``column`` contains ``text``, ignoring case (SQLite's LIKE already ignores ASCII case)."""
    pattern = f"%{text}%"
    return column.like(pattern) if _sqlite() else column.ilike(pattern)


def _phrase(text: str) -> str:
    """``text`` as one FTS5 phrase (a substring, for the trigram tokenizer)."""
    return '"' + text.replace('"', '""') + '"'


def _matching(fts_query: str) -> WhereRaw:
    return WhereRaw("leads.id IN (SELECT rowid FROM leads_search WHERE leads_search MATCH {})", fts_query)


def _any_text_contains(word: str) -> Any:
    clause = None
    for column in _TEXT_COLUMNS:
        part = _contains(column, word)
        clause = part if clause is None else clause | part
    return clause


def text_clauses(text: str) -> list[Any]:
    """Every word of ``text`` appears in the name, category, address, city or website."""
    # SQLite ends an FTS5 string at a NUL ("unterminated string"); no text holds one.
    words = text.replace("\x00", " ").split()
    long = [word for word in words if len(word) >= TRIGRAM]
    clauses: list[Any] = []
    if _sqlite() and long:
        clauses.append(_matching(" ".join(_phrase(word) for word in long)))
        words = [word for word in words if len(word) < TRIGRAM]
    clauses.extend(_any_text_contains(word) for word in words)
    return clauses


def category_clause(category: str) -> Any:
    """The category is ``category``, ignoring case."""
    if _sqlite():
        return WhereRaw("leads.category = {} COLLATE NOCASE", category)
    # PostgreSQL: through the lower() indexes (an ILIKE would read % and _ as wildcards).
    return WhereRaw("lower(leads.category) = lower({})", category)


def location_clause(location: str) -> Any:
    """The city is ``location``, ignoring case (a street or part of an address is free text)."""
    if _sqlite():
        return WhereRaw("leads.city = {} COLLATE NOCASE", location)
    return WhereRaw("lower(leads.city) = lower({})", location)


def where(query: LeadQuery) -> Any:
    """The combined clause for ``query``'s filters, or None when it has none."""
    clauses: list[Any] = []
    if query.state:
        clauses.append(LeadRow.lifecycle_state == query.state)
    if query.category:
        clauses.append(category_clause(query.category.strip()))
    if query.location:
        clauses.append(location_clause(query.location.strip()))
    if query.min_score is not None:
        clauses.append(LeadRow.score >= query.min_score)
    if query.tag:
        clauses.append(tag_clause(query.tag))
    if query.text:
        clauses.extend(text_clauses(query.text))
    combined = None
    for clause in clauses:
        combined = clause if combined is None else combined & clause
    return combined
