"""Rendering pages and htmx fragments from one template per page.

A normal request gets the whole page. An htmx request (``HX-Request``, not boosted,
not a history restore) gets only the named block of the same template, so a page
and its fragments can never drift apart. Every response says ``Vary: HX-Request``.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Request, Response
from litestar.enums import MediaType
from litestar.utils.empty import value_or_default
from litestar.utils.scope.state import ScopeState
from markupsafe import Markup

from . import filters
from .security import AUTH_SCOPE_KEY

TEMPLATES = Path(__file__).parent / "templates"


def make_environment() -> Environment:
    """The Jinja environment of the app's own templates (autoescaped, strict)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    filters.install(env)
    return env


def is_fragment_request(request: Request[Any, Any, Any]) -> bool:
    """Whether to answer with a fragment: an htmx request that is neither boosted nor a history restore."""
    headers = request.headers
    return (
        headers.get("hx-request") == "true"
        and headers.get("hx-boosted") != "true"
        and headers.get("hx-history-restore-request") != "true"
    )


def csrf_token(request: Request[Any, Any, Any]) -> str:
    """The CSRF token Litestar issued for this request."""
    return value_or_default(ScopeState.from_scope(request.scope).csrf_token, "")


def _update_available(request: Request[Any, Any, Any]) -> Any:
    """The newer release the update check found, if any (see :mod:`outreach.kernel.updates`)."""
    runtime = request.app.state.get("runtime")
    updates = getattr(runtime, "updates", None)
    return updates.available if updates is not None else None


def render(
    request: Request[Any, Any, Any],
    template: str,
    context: dict[str, Any] | None = None,
    *,
    block: str | None = None,
    fragment: bool | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    """Render ``template``, or only its ``block`` for a fragment request.

    :param fragment: force the block (True) or the whole page (False); by default
        an htmx request gets the block.
    """
    env: Environment = request.app.state.jinja
    token = csrf_token(request)
    ctx = {
        **(context or {}),
        "request": request,
        "csrf_token": token,
        "csrf_input": Markup(f'<input type="hidden" name="_csrf_token" value="{html.escape(token)}">'),
        "nav": request.app.state.navigation,
        "current_path": request.url.path,
        "signed_in": request.scope.get(AUTH_SCOPE_KEY) == "cookie",
        "update": _update_available(request),
    }
    compiled = env.get_template(template)
    as_fragment = is_fragment_request(request) if fragment is None else fragment
    if block is not None and as_fragment:
        body = "".join(compiled.blocks[block](compiled.new_context(ctx)))
    else:
        body = compiled.render(ctx)
    return Response(
        body,
        media_type=MediaType.HTML,
        status_code=status_code,
        headers={"Vary": "HX-Request", **(headers or {})},
    )
