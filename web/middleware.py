"""ASGI middleware: a request id for every request, echoed in ``X-Request-ID``."""

from __future__ import annotations

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from outreach.kernel.request_context import request_scope


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Run each HTTP request in its own request scope, so audit rows and log lines carry its id.

    It must wrap the whole app (see :func:`outreach.web.app.create_app`), not sit in
    Litestar's middleware list: Litestar runs that list only once a route matched and
    inside its own exception handling, so the 404 of an unknown path and the answer to
    an error raised by a middleware (the CSRF 403) would be sent outside the scope, with
    no id in the header and none in the log line.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        with request_scope() as request_id:
            header = (b"x-request-id", request_id.encode())

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", []), header]
                await send(message)

            await app(scope, receive, send_with_id)

    return middleware
