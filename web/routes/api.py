"""The JSON API under ``/api/v1``: the same services as the pages, as JSON."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from outreach.kernel.models import Job, Lead
from outreach.kernel.services.leads import LeadDetail, LeadQuery

from . import WEB_ACTOR, runtime


class LeadList(msgspec.Struct, kw_only=True):
    """A page of leads."""

    items: list[Lead]
    total: int
    page: int
    per_page: int


class TransitionRequest(msgspec.Struct, kw_only=True):
    """Move a lead to ``state``; ``version`` guards against a concurrent change."""

    state: str
    version: int | None = None


class LeadsApi(Controller):
    """Leads as JSON."""

    path = "/api/v1/leads"
    tags = ("leads",)

    @get("/")
    async def list_leads(
        self,
        request: Request[Any, Any, Any],
        lifecycle_state: Annotated[str | None, QueryParameter(name="state")] = None,
        q: FromQuery[str | None] = None,
        page: FromQuery[int] = 1,
        per_page: FromQuery[int] = 50,
    ) -> LeadList:
        """Leads, filtered by state and free text, one page at a time."""
        result = await runtime(request).leads.list(
            LeadQuery(state=lifecycle_state, text=q, page=page, per_page=per_page)
        )
        return LeadList(items=result.items, total=result.total, page=result.page, per_page=result.per_page)

    @get("/{lead_id:int}")
    async def get_lead(self, request: Request[Any, Any, Any], lead_id: FromPath[int]) -> LeadDetail:
        """One lead with its emails and audit trail."""
        return await runtime(request).leads.detail(lead_id)

    @post("/{lead_id:int}/transition", status_code=200)
    async def transition(
        self, request: Request[Any, Any, Any], lead_id: FromPath[int], data: JSONBody[TransitionRequest]
    ) -> Lead:
        """Change a lead's state (an illegal change answers 409 naming both states)."""
        return await runtime(request).leads.transition(
            lead_id, data.state, actor=WEB_ACTOR, expected_version=data.version
        )


class JobsApi(Controller):
    """Jobs as JSON."""

    path = "/api/v1/jobs"
    tags = ("jobs",)

    @get("/")
    async def list_jobs(
        self,
        request: Request[Any, Any, Any],
        job_state: Annotated[str | None, QueryParameter(name="state")] = None,
    ) -> list[Job]:
        """Recent jobs, newest first."""
        return await runtime(request).jobs.list(state=job_state)

    @get("/{job_id:int}")
    async def get_job(self, request: Request[Any, Any, Any], job_id: FromPath[int]) -> Job:
        """One job with its progress."""
        return await runtime(request).jobs.get(job_id)
