"""A local HTTP server speaking Google's OAuth token endpoint and the Gmail API's JSON.

It covers what outreach calls: ``messages/send`` (the raw message decoded as Gmail
reads it), ``messages?q=rfc822msgid:`` (looking a sent message up), ``messages?q=...
after:<seconds>`` (listing the inbox, newest first, in pages) and
``messages/<id>?format=raw`` (one message's bytes, base64url).
"""

from __future__ import annotations

import base64
import email
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

USER = "/gmail/v1/users/me"


class FakeGoogle:
    """The state of the fake Google: tokens issued, messages sent, the inbox, canned failures."""

    def __init__(self) -> None:
        self.token_requests: list[dict[str, list[str]]] = []
        self.sent: list[dict[str, Any]] = []
        self.searches: list[str] = []
        self.fail_next: list[tuple[int, dict[str, Any]]] = []
        self.expire_first_token = False
        self.known: dict[str, dict[str, str]] = {}
        self.inbox: list[dict[str, Any]] = []
        self.inbox_queries: list[str] = []
        self.fetched: list[str] = []
        self.page_size = 100
        self.tokens = 0
        self.url = ""

    def deliver(self, raw: bytes, *, at: float | None = None) -> str:
        """Put ``raw`` in the inbox (received at ``at``, epoch seconds); its id."""
        number = len(self.inbox) + 1
        message_id = f"in-{number:04d}"
        self.inbox.append(
            {
                "id": message_id,
                "threadId": f"t-{number}",
                "raw": raw,
                "internalDate": int((at or time.time()) * 1000),
            }
        )
        return message_id


def handler_for(google: FakeGoogle) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return None

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> str | None:
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if not token.startswith("tok-") or (google.expire_first_token and token == "tok-1"):
                self._json(
                    401,
                    {
                        "error": {
                            "code": 401,
                            "message": "Invalid Credentials",
                            "errors": [{"reason": "authError"}],
                        }
                    },
                )
                return None
            return token

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            if self.path == "/token":
                form = parse_qs(body.decode())
                google.token_requests.append(form)
                if form.get("client_secret") != ["shh"] or form.get("refresh_token") != ["refresh-1"]:
                    self._json(400, {"error": "invalid_grant", "error_description": "Bad Request"})
                    return
                google.tokens += 1
                self._json(
                    200, {"access_token": f"tok-{google.tokens}", "expires_in": 3599, "token_type": "Bearer"}
                )
                return
            if self.path != f"{USER}/messages/send":
                self._json(404, {"error": {"code": 404, "message": "Not Found"}})
                return
            if self._authorized() is None:
                return
            if google.fail_next:
                status, error = google.fail_next.pop(0)
                self._json(status, {"error": error})
                return
            payload = json.loads(body)
            raw = base64.urlsafe_b64decode(payload["raw"])
            message = email.message_from_bytes(raw, policy=policy.default)
            number = len(google.sent) + 1
            thread = payload.get("threadId") or f"thread-{number}"
            google.sent.append(
                {"payload": payload, "message": message, "id": f"msg-{number}", "threadId": thread}
            )
            google.known[str(message["Message-ID"]).strip("<>")] = {"id": f"msg-{number}", "threadId": thread}
            self._json(200, {"id": f"msg-{number}", "threadId": thread, "labelIds": ["SENT"]})

        def _list(self, query: str, params: dict[str, list[str]]) -> None:
            google.inbox_queries.append(query)
            after = re.search(r"\bafter:(\d+)", query)
            since = int(after.group(1)) if after else 0
            newest_first = sorted(google.inbox, key=lambda m: m["internalDate"], reverse=True)
            matching = [m for m in newest_first if m["internalDate"] // 1000 > since]
            start = int(params.get("pageToken", ["0"])[0])
            page = matching[start : start + google.page_size]
            body: dict[str, Any] = {
                "messages": [{"id": m["id"], "threadId": m["threadId"]} for m in page],
                "resultSizeEstimate": len(matching),
            }
            if start + google.page_size < len(matching):
                body["nextPageToken"] = str(start + google.page_size)
            if not page:
                body.pop("messages")
            self._json(200, body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if not parts.path.startswith(f"{USER}/messages") or self._authorized() is None:
                if not parts.path.startswith(f"{USER}/messages"):
                    self._json(404, {"error": {"code": 404, "message": "Not Found"}})
                return
            params = parse_qs(parts.query)
            if parts.path == f"{USER}/messages":
                query = params["q"][0]
                if not query.startswith("rfc822msgid:"):
                    self._list(query, params)
                    return
                google.searches.append(query)
                found = google.known.get(query.removeprefix("rfc822msgid:"))
                self._json(
                    200,
                    {"messages": [found], "resultSizeEstimate": 1} if found else {"resultSizeEstimate": 0},
                )
                return
            message_id = parts.path.rsplit("/", 1)[1]
            found = next((m for m in google.inbox if m["id"] == message_id), None)
            if found is None or params.get("format") != ["raw"]:
                self._json(404, {"error": {"code": 404, "message": "Requested entity was not found."}})
                return
            google.fetched.append(message_id)
            self._json(
                200,
                {
                    "id": found["id"],
                    "threadId": found["threadId"],
                    "labelIds": ["INBOX", "UNREAD"],
                    "internalDate": str(found["internalDate"]),
                    "raw": base64.urlsafe_b64encode(found["raw"]).decode().rstrip("="),
                },
            )

    return Handler


@contextmanager
def running_google() -> Iterator[FakeGoogle]:
    """The fake Google on a free loopback port, with the client's secrets in the environment."""
    state = FakeGoogle()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    os.environ.update(GMAIL_ID="client-1", GMAIL_SECRET="shh", GMAIL_REFRESH="refresh-1")
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def gmail_sender_settings(
    google: FakeGoogle, *, gmail: dict[str, Any] | None = None, sending: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ``sender`` and ``sending`` tables of a config whose gmail sender talks to ``google``."""
    return {
        "sender": {
            "backend": "gmail",
            "gmail": {
                "client_id": "env:GMAIL_ID",
                "client_secret": "env:GMAIL_SECRET",
                "refresh_token": "env:GMAIL_REFRESH",
                "api_url": google.url,
                "token_url": f"{google.url}/token",
                "timeout": 5,
                **(gmail or {}),
            },
        },
        "sending": {"rate_limit_per_minute": 0, **(sending or {})},
    }
