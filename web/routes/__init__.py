"""The web app's route handlers, one module per area."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import PathParameter, QueryParameter

from outreach.kernel.compliance import Finding, compliance_findings
from outreach.kernel.runtime import Runtime
from outreach.kernel.services.getting_started import sending_findings

#: The htmx event a polled job's last answer fires, so lists on the page refresh once.
JOB_FINISHED_EVENT = "job-finished"

#: Who the audit log names for actions taken in the browser.
WEB_ACTOR = "web"
#: Who the audit log names for actions taken through the JSON API.
API_ACTOR = "api"


#: The largest id SQLite stores; bigger numbers are refused before they reach the store.
MAX_ID = 2**63 - 1
#: A record id in a path: a positive 64-bit integer.
RecordId = Annotated[int, PathParameter(ge=1, le=MAX_ID)]
#: A page number in a query string.
PageNumber = Annotated[int, QueryParameter(ge=1, le=1_000_000)]
#: Items per page in a query string.
PageSize = Annotated[int, QueryParameter(ge=1, le=500)]
#: Numbers from forms and query strings are ignored beyond this.
_MAX_FORM_INT = 2**31 - 1


class ErrorBody(msgspec.Struct, kw_only=True):
    """What the API answers when a request fails: a sentence, the status, the request id."""

    error: str
    status: int
    request_id: str | None = None


#: The error answers every API operation may give, for the OpenAPI schema.
API_ERRORS: dict[int, ResponseSpec] = {
    code: ResponseSpec(data_container=ErrorBody, description=description)
    for code, description in (
        (400, "The request cannot be carried out as it is; the sentence says why."),
        (401, "The access token is missing or wrong."),
        (403, "The CSRF token is missing (send the bearer token, or the x-csrftoken header)."),
        (404, "There is no such record."),
        (409, "The change conflicts with the record's state or version."),
        (422, "A value in the request is not acceptable."),
    )
}


def runtime(request: Request[Any, Any, Any]) -> Runtime:
    """The :class:`Runtime` the app was built with."""
    return request.app.state.runtime  # type: ignore[no-any-return]


async def form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The submitted form as a plain dict (last value wins)."""
    data = await request.form()
    return {key: str(value) for key, value in data.items()}


def optional_int(value: str | None) -> int | None:
    """An int from a form or query value; None when blank or not a number."""
    if value is None or not str(value).strip().lstrip("-").isdigit() or len(str(value).strip()) > 12:
        return None
    number = int(value)
    return number if abs(number) <= _MAX_FORM_INT else None


def sending_problems(rt: Runtime) -> list[Finding]:
    """Everything that stops real mail from going out now, each with the setting that fixes it
    (the dashboard, Sequences and Settings show the same list)."""
    senders = {name: rt.plugins.senders.get(name) for name in rt.plugins.senders.names()}
    chains = {name: rt.mailboxes.sender_chain(name) for name in rt.mailboxes.names()}
    legal = compliance_findings(rt.settings, rt.mailboxes.all_settings())
    return sending_findings(legal, chains, senders)
