"""The JSON API under ``/api/v1``: the same services as the pages, as JSON.

Scripts authenticate with ``Authorization: Bearer <[web] access_token>``, which also
exempts them from the CSRF check (see :mod:`outreach.web.security`). Errors answer
``{"error": sentence, "status": code, "request_id": id}``.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromQuery, JSONBody, QueryParameter

from outreach.kernel.errors import InvalidInput
from outreach.kernel.models import Email, Job, Lead
from outreach.kernel.runtime import Runtime
from outreach.kernel.services.lead_tags import TagChange
from outreach.kernel.services.leads import SORTS, BulkResult, LeadDetail, LeadQuery
from outreach.kernel.states import EmailState, LeadState

from . import API_ACTOR, API_ERRORS, PageNumber, PageSize, RecordId, runtime


class LeadList(msgspec.Struct, kw_only=True):
    """A page of leads."""

    items: list[Lead]
    total: int
    page: int
    per_page: int


class EmailList(msgspec.Struct, kw_only=True):
    """A page of emails."""

    items: list[Email]
    total: int
    page: int
    per_page: int


class TransitionRequest(msgspec.Struct, kw_only=True):
    """Move a lead to ``state``; ``version`` guards against a concurrent change."""

    state: str
    version: int | None = None


class LeadFilter(msgspec.Struct, kw_only=True):
    """The filters of a lead list, as a JSON object."""

    state: str | None = None
    category: str | None = None
    location: str | None = None
    min_score: float | None = None
    q: str | None = None
    tag: str | None = None


class TagRequest(msgspec.Struct, kw_only=True):
    """Tags to add to and remove from a lead (normalized: lower-case, trimmed)."""

    add: list[str] = []
    remove: list[str] = []


class BulkTagRequest(msgspec.Struct, kw_only=True):
    """Tags to add to and remove from many leads: the listed ``ids``, or every lead matching ``filter``."""

    add: list[str] = []
    remove: list[str] = []
    ids: list[int] | None = None
    filter: LeadFilter | None = None


class BulkRequest(msgspec.Struct, kw_only=True):
    """Move many leads to ``state``: the listed ``ids``, or every lead matching ``filter``."""

    state: str
    ids: list[int] | None = None
    filter: LeadFilter | None = None


def _check_state(value: str | None, allowed: type[LeadState] | type[EmailState]) -> None:
    if value is not None and value not in set(allowed):
        raise InvalidInput(f"'{value}' is not a state; use one of: {', '.join(allowed)}.")


async def _selected(rt: Runtime, ids: list[int] | None, selection: LeadFilter | None) -> list[int]:
    """The leads a bulk request names: its ``ids``, or every lead matching its ``filter``."""
    if ids is not None:
        return ids
    if selection is None:
        raise InvalidInput("Say which leads: give 'ids' or a 'filter'.")
    _check_state(selection.state, LeadState)
    return await rt.leads.ids_matching(
        LeadQuery(
            state=selection.state,
            category=selection.category,
            location=selection.location,
            min_score=selection.min_score,
            text=selection.q,
            tag=selection.tag,
        )
    )


class LeadsApi(Controller):
    """Leads as JSON."""

    path = "/api/v1/leads"
    tags = ("leads",)

    @get("/", responses=API_ERRORS)
    async def list_leads(
        self,
        request: Request[Any, Any, Any],
        lifecycle_state: Annotated[str | None, QueryParameter(name="state")] = None,
        category: FromQuery[str | None] = None,
        location: FromQuery[str | None] = None,
        min_score: FromQuery[float | None] = None,
        q: FromQuery[str | None] = None,
        tag: FromQuery[str | None] = None,
        sort: FromQuery[str] = "id",
        descending: FromQuery[bool] = False,
        page: PageNumber = 1,
        per_page: PageSize = 50,
    ) -> LeadList:
        """Leads filtered by state, category, location, minimum score, tag and free text; sorted; paged."""
        _check_state(lifecycle_state, LeadState)
        if sort not in SORTS:
            raise InvalidInput(f"'{sort}' is not a sort; use one of: {', '.join(SORTS)}.")
        query = LeadQuery(
            state=lifecycle_state,
            category=category,
            location=location,
            min_score=min_score,
            text=q,
            tag=tag,
            sort=sort,
            descending=descending,
            page=page,
            per_page=per_page,
        )
        result = await runtime(request).leads.list(query)
        return LeadList(items=result.items, total=result.total, page=result.page, per_page=result.per_page)

    @get("/{lead_id:int}", responses=API_ERRORS)
    async def get_lead(self, request: Request[Any, Any, Any], lead_id: RecordId) -> LeadDetail:
        """One lead with its emails and audit trail."""
        return await runtime(request).leads.detail(lead_id)

    @post("/{lead_id:int}/transition", status_code=200, responses=API_ERRORS)
    async def transition(
        self, request: Request[Any, Any, Any], lead_id: RecordId, data: JSONBody[TransitionRequest]
    ) -> Lead:
        """Change a lead's state (an illegal change answers 409 naming both states)."""
        _check_state(data.state, LeadState)
        return await runtime(request).leads.transition(
            lead_id, data.state, actor=API_ACTOR, expected_version=data.version
        )

    @post("/{lead_id:int}/tags", status_code=200, responses=API_ERRORS)
    async def change_tags(
        self, request: Request[Any, Any, Any], lead_id: RecordId, data: JSONBody[TagRequest]
    ) -> Lead:
        """Add and remove tags on one lead (a bad tag answers 422 saying why); the lead with its tags."""
        rt = runtime(request)
        await rt.leads.get(lead_id)
        await rt.leads.change_tags([lead_id], add=data.add, remove=data.remove, actor=API_ACTOR)
        return await rt.leads.get(lead_id)

    @post("/bulk", status_code=200, responses=API_ERRORS)
    async def bulk(self, request: Request[Any, Any, Any], data: JSONBody[BulkRequest]) -> BulkResult:
        """Move many leads at once; the answer lists what moved and, for the rest, why not."""
        _check_state(data.state, LeadState)
        rt = runtime(request)
        ids = await _selected(rt, data.ids, data.filter)
        return await rt.leads.transition_many(ids, data.state, actor=API_ACTOR)

    @post("/tags", status_code=200, responses=API_ERRORS)
    async def bulk_tags(self, request: Request[Any, Any, Any], data: JSONBody[BulkTagRequest]) -> TagChange:
        """Add and remove tags on many leads; the answer lists what changed and why the rest did not."""
        rt = runtime(request)
        ids = await _selected(rt, data.ids, data.filter)
        return await rt.leads.change_tags(ids, add=data.add, remove=data.remove, actor=API_ACTOR)


class EmailsApi(Controller):
    """Outgoing emails as JSON."""

    path = "/api/v1/emails"
    tags = ("emails",)

    @get("/", responses=API_ERRORS)
    async def list_emails(
        self,
        request: Request[Any, Any, Any],
        email_state: Annotated[str | None, QueryParameter(name="state")] = None,
        page: PageNumber = 1,
        per_page: PageSize = 50,
    ) -> EmailList:
        """Emails, newest first, optionally in one state."""
        _check_state(email_state, EmailState)
        result = await runtime(request).emails.list(
            state=email_state, page=page, per_page=max(1, min(per_page, 500))
        )
        return EmailList(items=result.items, total=result.total, page=result.page, per_page=result.per_page)

    @get("/{email_id:int}", responses=API_ERRORS)
    async def get_email(self, request: Request[Any, Any, Any], email_id: RecordId) -> Email:
        """One email with its tracking state."""
        return await runtime(request).emails.get(email_id)


class JobsApi(Controller):
    """Jobs as JSON."""

    path = "/api/v1/jobs"
    tags = ("jobs",)

    @get("/", responses=API_ERRORS)
    async def list_jobs(
        self,
        request: Request[Any, Any, Any],
        job_state: Annotated[str | None, QueryParameter(name="state")] = None,
        limit: PageSize = 50,
    ) -> list[Job]:
        """Recent jobs, newest first."""
        return await runtime(request).jobs.list(state=job_state, limit=max(1, min(limit, 500)))

    @get("/{job_id:int}", responses=API_ERRORS)
    async def get_job(self, request: Request[Any, Any, Any], job_id: RecordId) -> Job:
        """One job with its progress."""
        return await runtime(request).jobs.get(job_id)

    @post("/{job_id:int}/cancel", status_code=200, responses=API_ERRORS)
    async def cancel_job(self, request: Request[Any, Any, Any], job_id: RecordId) -> Job:
        """Ask a job to stop (a queued one is cancelled at once, a running one at its next check)."""
        rt = runtime(request)
        job = await rt.jobs.request_cancel(job_id, actor=API_ACTOR)
        rt.runner.cancel(job_id)
        return job

    @post("/{job_id:int}/resume", status_code=200, responses=API_ERRORS)
    async def resume_job(self, request: Request[Any, Any, Any], job_id: RecordId) -> Job:
        """Queue an interrupted or failed job again."""
        return await runtime(request).jobs.resume(job_id, actor=API_ACTOR)
