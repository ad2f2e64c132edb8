"""Who is acting and in which request, carried through async calls with contextvars.

The web sets these per request and the CLI per command, so an audit row written deep
in a service knows its request id without every function passing it along. The id is
also bound in structlog's context, so every log line of the request carries it as
``request_id``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextvars import ContextVar

import structlog

_request_id: ContextVar[str | None] = ContextVar("outreach_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request or command being served, if any."""
    return _request_id.get()


def new_request_id() -> str:
    """A fresh short id for a request or command."""
    return uuid.uuid4().hex[:16]


@contextlib.contextmanager
def request_scope(request_id: str | None = None) -> Iterator[str]:
    """Run the enclosed code as one request, with its own id (in audit rows and log lines)."""
    rid = request_id or new_request_id()
    token = _request_id.set(rid)
    log_tokens = structlog.contextvars.bind_contextvars(request_id=rid)
    try:
        yield rid
    finally:
        structlog.contextvars.reset_contextvars(**log_tokens)
        _request_id.reset(token)
