"""The WHERE clause of a lead list: state, category, location, minimum score, tag and free text.

On SQLite the clauses are shaped for the indexes of the review page (migration
``2026-11-26T10:26``): category and city (the location filter) compare whole values
ignoring case through ``COLLATE NOCASE`` indexes, and free text goes through
``leads_search``, an FTS5 trigram index over name, category, address, city and
website, so a substring search over 100,000 leads does not scan the table. On
PostgreSQL the same migration makes ``lower()`` indexes for the filters and pg_trgm
GIN indexes that serve each word's ``ILIKE '%word%'``; the words of three letters or
more are matched in a subquery whose ids the outer query takes as an array, the shape
of the SQLite path: otherwise the planner, seeing ``ORDER BY business_name LIMIT 50``,
walks the name index and tests every row it meets (36,000 of 100,000 for "dentist
dallas"), where the trigram indexes find the few hundred matches at once.
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


def _matching_on_postgres(words: list[str]) -> WhereRaw:
    """Leads in which each of ``words`` appears in some text column, through the trigram indexes."""
    columns = [column._meta.db_column_name for column in _TEXT_COLUMNS]
    one_word = "(" + " OR ".join(f"{name} ILIKE {{}}" for name in columns) + ")"
    condition = " AND ".join([one_word] * len(words))
    patterns = [f"%{word}%" for word in words for _ in columns]
    # ARRAY(subquery) runs once, before the outer query is planned around its result.
    return WhereRaw(f"leads.id = ANY(ARRAY(SELECT id FROM leads WHERE {condition}))", *patterns)


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
    if long:
        if _sqlite():
            clauses.append(_matching(" ".join(_phrase(word) for word in long)))
        else:
            clauses.append(_matching_on_postgres(long))
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
