"""ASGI middleware: a request id for every request, echoed in ``X-Request-ID``."""

from __future__ import annotations

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from outreach.kernel.request_context import request_scope


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Run each HTTP request in its own request scope, so audit rows carry its id."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        with request_scope() as request_id:

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                await send(message)

            await app(scope, receive, send_with_id)

    return middleware
