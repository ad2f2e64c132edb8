"""Turning errors into friendly answers: a page, an htmx flash, or JSON; never a traceback."""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from outreach.kernel.errors import OutreachError
from outreach.kernel.request_context import current_request_id

from .rendering import is_fragment_request, render

log = structlog.get_logger("outreach.web")


def _wants_json(request: Request[Any, Any, Any]) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def _answer(request: Request[Any, Any, Any], status: int, title: str, message: str) -> Response[Any]:
    try:
        return _render_answer(request, status, title, message)
    except Exception:
        # The error page itself failed: still no traceback for the person.
        log.exception("error_page_failed", path=request.url.path)
        return Response(f"{title}: {message}", status_code=status, media_type="text/plain")


def _render_answer(request: Request[Any, Any, Any], status: int, title: str, message: str) -> Response[Any]:
    request_id = current_request_id()
    if _wants_json(request):
        return Response({"error": message, "status": status, "request_id": request_id}, status_code=status)
    if is_fragment_request(request):
        # Show the message in the page's flash area instead of swapping it into the target.
        return render(
            request,
            "error.html",
            {"title": title, "message": message, "request_id": request_id},
            block="flash",
            fragment=True,
            status_code=status,
            headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"},
        )
    return render(
        request,
        "error.html",
        {"title": title, "message": message, "request_id": request_id},
        fragment=False,
        status_code=status,
    )


def outreach_error(request: Request[Any, Any, Any], exc: OutreachError) -> Response[Any]:
    """An error a person can act on: show its sentence."""
    log.info("request_refused", path=request.url.path, error=type(exc).__name__)
    return _answer(request, exc.status_code, "That did not work", str(exc))


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Litestar's own errors (404, 405, CSRF 403, validation 400) in the same friendly form."""
    status = exc.status_code
    if status == 404:
        message = "There is nothing at this address."
    elif isinstance(exc, PermissionDeniedException | NotAuthorizedException) and "CSRF" in str(exc.detail):
        message = (
            "This request carries no valid CSRF token: send the access token as 'Authorization: Bearer "
            "<token>', or echo the outreach_csrf cookie in the x-csrftoken header."
            if request.url.path.startswith("/api/")
            else "This form has expired or did not come from outreach. Reload the page and try again."
        )
    elif status == 405:
        message = "This address does not accept that kind of request."
    else:
        message = str(exc.detail)
    return _answer(request, status, "That did not work", message)


def unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A bug: log it with its traceback, show a sentence and the request id."""
    log.exception("request_failed", path=request.url.path)
    return _answer(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "outreach hit an unexpected error. Nothing was lost; the log file has the details "
        f"(request {current_request_id()}).",
    )


EXCEPTION_HANDLERS = {
    OutreachError: outreach_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
