"""Leads: storing what discovery finds, reading them back, and changing their state."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import msgspec

from ..contracts import DiscoveredBusiness
from ..errors import ConcurrentUpdate, IllegalTransition, NotFound
from ..identity import identity_key
from ..models import EnrichmentRecord, Lead, Page
from ..states import LEAD_MACHINE, REVIEW_UNDO_STATES, LeadState
from ..store.engine import is_postgres, read_transaction, write_transaction
from ..store.mapping import lead_columns, lead_from_row
from ..store.tables import EmailRow, LeadRow
from . import audit, lead_bulk, lead_enrichment, lead_tags
from .lead_bulk import BulkResult
from .lead_filters import where
from .lead_matching import same_business_row, sources_with
from .transitions import apply_transition, utcnow

if TYPE_CHECKING:
    from ..runtime import Runtime

#: Lead fields a discovery may fill in; a later discovery overwrites them only with values.
DISCOVERY_FIELDS = (
    "business_name",
    "category",
    "categories",
    "location",
    "city",
    "country_code",
    "latitude",
    "longitude",
    "maps_url",
    "place_id",
    "website_url",
    "email",
    "phone",
    "contact_name",
    "rating",
    "review_count",
)

SORTS = {
    "id": LeadRow.id,
    "business_name": LeadRow.business_name,
    "category": LeadRow.category,
    "city": LeadRow.city,
    "location": LeadRow.location,
    "state": LeadRow.lifecycle_state,
    "score": LeadRow.score,
    "rating": LeadRow.rating,
    "created_at": LeadRow.created_at,
    "updated_at": LeadRow.updated_at,
}


#: The columns of a lead in a list (see :meth:`LeadService.list`).
BRIEF_COLUMNS = tuple(
    column
    for column in LeadRow.all_columns()
    if column._meta.name not in ("enrichment", "discovery_metadata", "phone", "contact_name", "categories")
)


class LeadQuery(msgspec.Struct, kw_only=True):
    """Filters, sort and page for a list of leads.

    ``category`` matches the whole category and ``location`` the whole city, both
    ignoring case; ``tag`` is one tag the lead carries; every word of ``text`` must
    appear in the name, category, address, city or website.
    """

    state: str | None = None
    category: str | None = None
    location: str | None = None
    min_score: float | None = None
    text: str | None = None
    tag: str | None = None
    sort: str = "id"
    descending: bool = False
    page: int = 1
    per_page: int = 50


class LeadDetail(msgspec.Struct, kw_only=True):
    """Everything held about one lead (for ``leads show`` and the detail panel)."""

    lead: Lead
    emails: list[Any] = []
    audit: list[Any] = []


class LeadService:
    """Reads and changes leads; fires ``lead_transitioned`` after each committed change."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def _lead(self, row: dict[str, Any]) -> Lead:
        return lead_from_row(row, self._rt.vault)

    @staticmethod
    async def with_tags(leads: list[Lead]) -> list[Lead]:
        """``leads`` with their tags filled in (one query for the whole list)."""
        found = await lead_tags.tags_of(lead.id for lead in leads)
        for lead in leads:
            lead.tags = found.get(lead.id, [])
        return leads

    async def get(self, lead_id: int) -> Lead:
        """One lead, with its tags; :class:`NotFound` if there is none."""
        row = await LeadRow.select().where(LeadRow.id == lead_id).first()
        if row is None:
            raise NotFound(f"There is no lead with id {lead_id}; `outreach leads list` shows them.")
        return (await self.with_tags([self._lead(row)]))[0]

    async def change_tags(
        self, lead_ids: Iterable[int], *, add: Iterable[str] = (), remove: Iterable[str] = (), actor: str
    ) -> lead_tags.TagChange:
        """Add and remove tags on many leads; see :func:`.lead_tags.change_tags`."""
        return await lead_tags.change_tags(lead_ids, add=add, remove=remove, actor=actor)

    async def find_by_email(self, email: str) -> list[Lead]:
        """Leads whose email address is ``email`` (matched by keyed hash)."""
        rows = await LeadRow.select().where(LeadRow.email_hash == self._rt.vault.hash_email(email))
        return [self._lead(row) for row in rows]

    @staticmethod
    def page_queries(query: LeadQuery, *, brief: bool = False) -> tuple[Any, Any]:
        """The SELECT of one page and the COUNT of all leads matching ``query`` (not yet run)."""
        per_page = max(1, min(query.per_page, 500))
        page = max(1, min(query.page, 1_000_000))
        clause = where(query)
        select = LeadRow.select(*BRIEF_COLUMNS) if brief else LeadRow.select()
        count = LeadRow.count()
        if clause is not None:
            select, count = select.where(clause), count.where(clause)
        column = SORTS.get(query.sort, LeadRow.id)
        select = select.order_by(column, ascending=not query.descending).order_by(LeadRow.id)
        return select.limit(per_page).offset((page - 1) * per_page), count

    async def list(self, query: LeadQuery | None = None, *, brief: bool = False) -> Page:
        """One page of leads matching ``query``.

        :param brief: leave out what a table of leads does not show (enrichment,
            discovery metadata, phone, contact name), which is most of a lead's bytes.
        """
        query = query or LeadQuery()
        select, count = self.page_queries(query, brief=brief)
        if is_postgres():
            # Each statement reads its own snapshot on PostgreSQL (READ COMMITTED), inside a
            # transaction or not: the page and its count run at once on two connections.
            rows, total = await asyncio.gather(select.run(), count.run())
            items = await self.with_tags([self._lead(r) for r in rows])
        else:
            async with read_transaction():
                rows = await select
                total = await count
                items = await self.with_tags([self._lead(r) for r in rows])
        page, per_page = max(1, min(query.page, 1_000_000)), max(1, min(query.per_page, 500))
        return Page(items=items, total=total, page=page, per_page=per_page)

    async def ids_matching(self, query: LeadQuery) -> list[int]:
        """Ids of every lead matching ``query``'s filters (all pages)."""
        select = LeadRow.select(LeadRow.id)
        clause = where(query)
        if clause is not None:
            select = select.where(clause)
        return [row["id"] for row in await select.order_by(LeadRow.id)]

    async def distinct_values(self, field: str, limit: int = 500) -> list[str]:
        """The distinct non-empty values of ``category`` or ``city``, for filter suggestions."""
        if field not in ("category", "city"):
            raise ValueError(f"no suggestions for {field!r}")
        column = getattr(LeadRow, field)
        rows = await LeadRow.select(column).where(column.is_not_null()).distinct().limit(limit)
        return sorted({row[field] for row in rows if row[field]}, key=str.casefold)

    async def count_by_state(self) -> dict[str, int]:
        """How many leads are in each state (every state present, zeros included)."""
        counts = dict.fromkeys(LeadState, 0)
        rows = await LeadRow.raw("SELECT lifecycle_state, COUNT(*) AS n FROM leads GROUP BY lifecycle_state")
        for row in rows:
            counts[row["lifecycle_state"]] = row["n"]
        return {str(state): n for state, n in counts.items()}

    async def upsert_discovered(self, business: DiscoveredBusiness, source: str) -> tuple[Lead, str]:
        """Store a discovered business: a new lead, or an update of the one it already is.

        The lead it already is has the same identity key (its fields are then updated
        with the values found), or is the same business by
        :func:`~outreach.kernel.same_business.same_business` under another source's id
        (only the fields the lead lacks are filled). The first source to find a lead
        stays its ``discovery_source``; every source that found it is listed in
        ``discovery_metadata["sources"]``.

        :return: the lead and what happened: ``created``, ``updated`` or ``unchanged``.
        """
        key = identity_key(business)
        values = {name: getattr(business, name) for name in DISCOVERY_FIELDS}
        async with write_transaction():
            existing = await LeadRow.select().where(LeadRow.identity_key == key).first()
            # Matched under another source's id, a business only fills what the lead lacks:
            # two sources' spellings of one place must not overwrite each other on every run.
            fill_only = existing is None
            if existing is None:
                existing = await same_business_row(business, self._rt.vault)
            if existing is None:
                row = LeadRow(
                    identity_key=key,
                    discovery_source=source,
                    discovery_confidence=business.confidence,
                    discovery_metadata={**business.metadata, "sources": [source]},
                    **lead_columns({k: v for k, v in values.items() if v not in (None, [])}, self._rt.vault),
                )
                inserted = await LeadRow.insert(row).returning(*LeadRow.all_columns())
                lead = self._lead(inserted[0])
                await audit.record("lead", lead.id, "discovered", f"source:{source}", new={"source": source})
                return lead, "created"
            current = self._lead(existing)
            changed = {
                name: value
                for name, value in values.items()
                if value not in (None, [], "")
                and getattr(current, name) != value
                and not (fill_only and getattr(current, name) not in (None, [], ""))
            }
            if fill_only:
                metadata = {**business.metadata, **current.discovery_metadata}
            else:
                metadata = {**current.discovery_metadata, **business.metadata}
            metadata["sources"] = sources_with(current, source)
            if not changed and metadata == current.discovery_metadata:
                return current, "unchanged"
            columns: dict[Any, Any] = {
                getattr(LeadRow, name): value for name, value in lead_columns(changed, self._rt.vault).items()
            }
            columns[LeadRow.discovery_metadata] = metadata
            if not current.discovery_source:
                columns[LeadRow.discovery_source] = source
            if business.confidence is not None and not (
                fill_only and current.discovery_confidence is not None
            ):
                columns[LeadRow.discovery_confidence] = business.confidence
            columns[LeadRow.version] = current.version + 1
            columns[LeadRow.updated_at] = utcnow()
            updated = await (
                LeadRow.update(columns).where(LeadRow.id == current.id).returning(*LeadRow.all_columns())
            )
            await audit.record(
                "lead",
                current.id,
                "rediscovered",
                f"source:{source}",
                old={name: _plain(getattr(current, name)) for name in changed},
                new={name: _plain(value) for name, value in changed.items()},
            )
            return self._lead(updated[0]), "updated"

    async def update_fields(
        self,
        lead_id: int,
        values: dict[str, Any],
        *,
        actor: str,
        expected_version: int | None = None,
        action: str = "edited",
    ) -> Lead:
        """Change a lead's own fields (not its state), versioned and audited."""
        async with write_transaction():
            current = await self.get(lead_id)
            if expected_version is not None and current.version != expected_version:
                raise ConcurrentUpdate("lead", lead_id, expected_version)
            columns: dict[Any, Any] = {
                getattr(LeadRow, name): value for name, value in lead_columns(values, self._rt.vault).items()
            }
            columns[LeadRow.version] = current.version + 1
            columns[LeadRow.updated_at] = utcnow()
            updated = await (
                LeadRow.update(columns)
                .where((LeadRow.id == lead_id) & (LeadRow.version == current.version))
                .returning(*LeadRow.all_columns())
            )
            if not updated:
                raise ConcurrentUpdate("lead", lead_id, current.version)
            await audit.record(
                "lead",
                lead_id,
                action,
                actor,
                old={name: _plain(getattr(current, name, None)) for name in values},
                new={name: _plain(value) for name, value in values.items()},
            )
        return self._lead(updated[0])

    async def transition(
        self,
        lead_id: int,
        new_state: str,
        *,
        actor: str,
        expected_version: int | None = None,
        reason: str | None = None,
        changes: dict[str, Any] | None = None,
    ) -> Lead:
        """Move one lead to ``new_state``; see :func:`apply_transition`."""
        async with write_transaction():
            lead, old = await self.transition_in_transaction(
                lead_id,
                new_state,
                actor=actor,
                expected_version=expected_version,
                reason=reason,
                changes=changes,
            )
            await self.with_tags([lead])
        self.notify(lead, old, new_state, actor)
        return lead

    async def transition_in_transaction(
        self,
        lead_id: int,
        new_state: str,
        *,
        actor: str,
        expected_version: int | None = None,
        reason: str | None = None,
        changes: dict[str, Any] | None = None,
    ) -> tuple[Lead, str]:
        """Like :meth:`transition` inside the caller's transaction; call :meth:`notify` after commit."""
        if new_state == LeadState.PENDING_REVIEW:
            await self._refuse_undo_after_outreach([lead_id])
        row, old = await apply_transition(
            LeadRow,
            LEAD_MACHINE,
            "lifecycle_state",
            lead_id,
            new_state,
            actor=actor,
            expected_version=expected_version,
            changes=lead_columns(changes or {}, self._rt.vault),
            audit_changes=changes,
            reason=reason,
        )
        return self._lead(row), old

    def notify(self, lead: Lead, old_state: str, new_state: str, actor: str) -> None:
        """Fire ``lead_transitioned`` (after the commit)."""
        self._rt.plugins.notify(
            "lead_transitioned", lead=lead, old_state=old_state, new_state=new_state, actor=actor
        )

    async def record_enrichment(
        self,
        lead_id: int,
        records: Iterable[EnrichmentRecord],
        lead_fields: dict[str, Any],
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Lead:
        """Store what enrichers learned; see :func:`.lead_enrichment.record_enrichment`."""
        row = await lead_enrichment.record_enrichment(
            self._rt.vault,
            await self.get(lead_id),
            list(records),
            lead_fields,
            actor=actor,
            expected_version=expected_version,
        )
        return self._lead(row)

    async def _refuse_undo_after_outreach(self, lead_ids: Iterable[int]) -> None:
        ids = list(lead_ids)
        rows = await LeadRow.select(LeadRow.id, LeadRow.lifecycle_state).where(LeadRow.id.is_in(ids))
        undoing = [r["id"] for r in rows if r["lifecycle_state"] in REVIEW_UNDO_STATES]
        if not undoing:
            return
        mailed = await (
            EmailRow.select(EmailRow.lead)
            .where(EmailRow.lead.is_in(undoing) & (EmailRow.state != "cancelled"))
            .first()
        )
        if mailed is not None:
            raise IllegalTransition("lead", "reviewed with email in the outbox", "pending_review")

    async def transition_many(self, lead_ids: Iterable[int], new_state: str, *, actor: str) -> BulkResult:
        """Move many leads at once; see :func:`.lead_bulk.transition_many`."""
        return await lead_bulk.transition_many(self._rt, lead_ids, new_state, actor=actor)

    async def detail(self, lead_id: int) -> LeadDetail:
        """The lead with its emails and its audit trail."""
        lead = await self.get(lead_id)
        emails = await self._rt.emails.for_lead(lead_id)
        return LeadDetail(lead=lead, emails=emails, audit=await audit.trail("lead", lead_id))


def _plain(value: Any) -> Any:
    return msgspec.to_builtins(value) if value is not None else None
