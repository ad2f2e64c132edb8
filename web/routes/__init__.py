"""The web app's route handlers, one module per area."""

from __future__ import annotations

from typing import Any

from litestar import Request

from outreach.kernel.runtime import Runtime

#: Who the audit log names for actions taken in the browser.
WEB_ACTOR = "web"
#: Who the audit log names for actions taken through the JSON API.
API_ACTOR = "api"


def runtime(request: Request[Any, Any, Any]) -> Runtime:
    """The :class:`Runtime` the app was built with."""
    return request.app.state.runtime  # type: ignore[no-any-return]


async def form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The submitted form as a plain dict (last value wins)."""
    data = await request.form()
    return {key: str(value) for key, value in data.items()}


def optional_int(value: str | None) -> int | None:
    """An int from a form or query value; None when blank or not a number."""
    if value is None or not str(value).strip().lstrip("-").isdigit():
        return None
    return int(value)
