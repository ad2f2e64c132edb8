"""Logging in with the access token (only when ``[web] access_token`` is set)."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.response import Redirect

from outreach.web.rendering import render
from outreach.web.security import SESSION_COOKIE, AccessGate, safe_next

from . import form

log = structlog.get_logger("outreach.web")

#: How long a failed login waits before answering, to slow down guessing.
FAILED_LOGIN_DELAY = 0.5


def _gate(request: Request[Any, Any, Any]) -> AccessGate:
    return request.app.state.access  # type: ignore[no-any-return]


@get("/login", name="login", include_in_schema=False)
async def login_form(request: Request[Any, Any, Any]) -> Response[Any]:
    """The login form; without an access token configured there is nothing to log in to."""
    target = safe_next(request.query_params.get("next"))
    if not _gate(request).enabled:
        return Redirect(target, status_code=303)
    return render(request, "login.html", {"next": target, "error": None})


@post("/login", name="login_submit", include_in_schema=False)
async def login_submit(request: Request[Any, Any, Any]) -> Response[Any]:
    """Check the token; set the HttpOnly session cookie and go where the person was going."""
    gate = _gate(request)
    data = await form(request)
    target = safe_next(data.get("next"))
    if not gate.enabled:
        return Redirect(target, status_code=303)
    if not gate.token_matches(data.get("token", "").strip()):
        log.info("login_refused")
        await asyncio.sleep(FAILED_LOGIN_DELAY)
        return render(
            request,
            "login.html",
            {
                "next": target,
                "error": "That is not the access token. Check [web] access_token in the config.",
            },
            status_code=401,
        )
    log.info("login_succeeded")
    return Redirect(
        target,
        status_code=303,
        cookies=[
            Cookie(key=SESSION_COOKIE, value=gate.session_value(), httponly=True, samesite="strict", path="/")
        ],
    )


@post("/logout", name="logout", include_in_schema=False)
async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
    """Forget the session cookie."""
    return Redirect(
        "/login",
        status_code=303,
        cookies=[Cookie(key=SESSION_COOKIE, value="", max_age=0, httponly=True, samesite="strict", path="/")],
    )
