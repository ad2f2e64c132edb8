"""``/api/v1/suppressions``: the addresses outreach must never mail."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.params import FromQuery, JSONBody

from outreach.kernel.models import Suppression

from . import API_ACTOR, API_ERRORS, PageNumber, PageSize, RecordId, runtime


class SuppressionList(msgspec.Struct, kw_only=True):
    """A page of suppressed addresses."""

    items: list[Suppression]
    total: int
    page: int
    per_page: int


class SuppressionRequest(msgspec.Struct, kw_only=True):
    """An address to suppress, why, and where the request came from."""

    email: str
    reason: str = "manual"
    source: str | None = None


class SuppressionsApi(Controller):
    """The suppression list as JSON."""

    path = "/api/v1/suppressions"
    tags = ("suppressions",)

    @get("/", responses=API_ERRORS)
    async def list_suppressions(
        self,
        request: Request[Any, Any, Any],
        reason: FromQuery[str | None] = None,
        page: PageNumber = 1,
        per_page: PageSize = 50,
    ) -> SuppressionList:
        """Suppressed addresses, newest first, optionally with one reason."""
        result = await runtime(request).suppressions.list(reason=reason, page=page, per_page=per_page)
        return SuppressionList(
            items=result.items, total=result.total, page=result.page, per_page=result.per_page
        )

    @post("/", status_code=201, responses=API_ERRORS)
    async def add_suppression(
        self, request: Request[Any, Any, Any], data: JSONBody[SuppressionRequest]
    ) -> Suppression:
        """Suppress an address (adding one already on the list returns its entry unchanged)."""
        return await runtime(request).suppressions.add(
            data.email, reason=data.reason, source=data.source or "api", actor=API_ACTOR
        )

    @get("/{suppression_id:int}", responses=API_ERRORS)
    async def get_suppression(self, request: Request[Any, Any, Any], suppression_id: RecordId) -> Suppression:
        """One entry."""
        return await runtime(request).suppressions.get(suppression_id)

    @delete("/{suppression_id:int}", status_code=200, responses=API_ERRORS)
    async def remove_suppression(
        self, request: Request[Any, Any, Any], suppression_id: RecordId
    ) -> Suppression:
        """Take an address off the list; answers the entry that was removed."""
        return await runtime(request).suppressions.remove(suppression_id, actor=API_ACTOR)
