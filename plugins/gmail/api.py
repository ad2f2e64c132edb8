"""The two Gmail endpoints outreach needs, and OAuth2's refresh-token grant, over httpx."""

from __future__ import annotations

import time
from typing import Any

import httpx
import msgspec

from outreach.kernel import (
    PermanentSendError,
    SecretRef,
    SenderUnavailable,
    TransientSendError,
    UncertainSendError,
)

#: Reasons Google gives in a 403 that mean "slow down", not "not allowed".
_RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded", "quotaExceeded"}


class GmailOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[sender.gmail]`` (each mailbox may override any key, for its own account)."""

    client_id: SecretRef
    client_secret: SecretRef
    refresh_token: SecretRef
    #: The account; ``me`` is the one the refresh token belongs to.
    user_id: str = "me"
    api_url: str = "https://gmail.googleapis.com"
    token_url: str = "https://oauth2.googleapis.com/token"
    timeout: float = 30.0
    #: Read replies and bounces from the account's inbox too.
    inbound: bool = True
    #: Which messages are read (Gmail search syntax); the cursor adds ``after:``.
    inbound_query: str = "in:inbox"
    #: On the first read, look this many days back.
    inbound_since_days: int = 7


def _error_reason(response: httpx.Response) -> tuple[str, str]:
    """Google's error reason and message from a JSON error body (empty when there is none)."""
    try:
        error = response.json().get("error", {})
    except ValueError:
        return "", response.text[:200]
    if isinstance(error, str):  # the token endpoint: {"error": "invalid_grant", ...}
        return error, str(response.json().get("error_description", error))
    details = error.get("errors") or [{}]
    return str(details[0].get("reason", "")), str(error.get("message", ""))


class GmailAccount:
    """One Gmail account: a cached access token and the calls made with it."""

    def __init__(self, options: GmailOptions, client: httpx.AsyncClient) -> None:
        self.options = options
        self._client = client
        self._token: str | None = None
        self._expires = 0.0

    async def token(self, *, refresh: bool = False) -> str:
        """A valid access token, refreshed through the token endpoint when needed."""
        if self._token and not refresh and time.monotonic() < self._expires - 60:
            return self._token
        options = self.options
        try:
            response = await self._client.post(
                options.token_url,
                data={
                    "grant_type": "refresh_token",
                    "client_id": options.client_id.resolve(),
                    "client_secret": options.client_secret.resolve(),
                    "refresh_token": options.refresh_token.resolve(),
                },
                timeout=options.timeout,
            )
        except httpx.HTTPError as exc:
            raise SenderUnavailable(f"cannot reach Google's token endpoint: {exc!r}") from None
        if response.status_code != 200:
            reason, message = _error_reason(response)
            raise SenderUnavailable(
                f"Google refused to renew the access token ({reason or response.status_code}: {message}); "
                "authorize the account again and update the refresh token"
            )
        body = response.json()
        self._token = str(body["access_token"])
        self._expires = time.monotonic() + float(body.get("expires_in", 3600))
        return self._token

    def _url(self, path: str) -> str:
        return f"{self.options.api_url.rstrip('/')}/gmail/v1/users/{self.options.user_id}/{path}"

    async def send(self, raw: str, thread_id: str | None) -> dict[str, Any]:
        """``users.messages.send``; the JSON Google answers (``id``, ``threadId``)."""
        body: dict[str, Any] = {"raw": raw}
        if thread_id:
            body["threadId"] = thread_id
        for attempt in (1, 2):
            token = await self.token(refresh=attempt == 2)
            try:
                response = await self._client.post(
                    self._url("messages/send"),
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=self.options.timeout,
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                raise SenderUnavailable(f"cannot reach the Gmail API: {exc!r}") from None
            except httpx.HTTPError as exc:
                raise UncertainSendError(f"the Gmail API did not answer the send: {exc!r}") from None
            if response.status_code == 401 and attempt == 1:
                continue  # the token expired early or was revoked: renew it once
            return self._answer(response)
        raise SenderUnavailable("the Gmail API refused a freshly renewed token; authorize the account again")

    def _answer(self, response: httpx.Response) -> dict[str, Any]:
        status = response.status_code
        if status == 200:
            return dict(response.json())
        reason, message = _error_reason(response)
        reply = f"{status} {reason}: {message}".strip()
        if status == 429 or status >= 500 or (status == 403 and reason in _RATE_REASONS):
            raise TransientSendError("the Gmail API asked to try later", reply=reply)
        if status in (401, 403):
            raise SenderUnavailable(f"the Gmail API refused this account ({reply})")
        raise PermanentSendError("the Gmail API refused the message", reply=reply)

    async def find(self, message_id: str) -> dict[str, Any] | None:
        """``users.messages.list?q=rfc822msgid:...``: the first match, or None."""
        token = await self.token()
        try:
            response = await self._client.get(
                self._url("messages"),
                params={"q": f"rfc822msgid:{message_id.strip('<> ')}", "includeSpamTrash": "true"},
                headers={"Authorization": f"Bearer {token}"},
                timeout=self.options.timeout,
            )
        except httpx.HTTPError as exc:
            raise TransientSendError(f"cannot search the Gmail account: {exc!r}") from None
        if response.status_code != 200:
            reason, message = _error_reason(response)
            raise TransientSendError(f"the Gmail search failed ({response.status_code} {reason}: {message})")
        messages = response.json().get("messages") or []
        return dict(messages[0]) if messages else None

    async def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """A GET of the Gmail API as JSON; a sentence when it fails."""
        for attempt in (1, 2):
            token = await self.token(refresh=attempt == 2)
            try:
                response = await self._client.get(
                    self._url(path),
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=self.options.timeout,
                )
            except httpx.HTTPError as exc:
                raise TransientSendError(f"cannot reach the Gmail API: {exc!r}") from None
            if response.status_code == 401 and attempt == 1:
                continue
            if response.status_code != 200:
                reason, message = _error_reason(response)
                raise TransientSendError(
                    f"the Gmail API refused to list the inbox ({response.status_code} {reason}: {message})"
                )
            return dict(response.json())
        raise SenderUnavailable("the Gmail API refused a freshly renewed token; authorize the account again")

    async def list_ids(self, query: str) -> list[str]:
        """``users.messages.list``: the ids of every message matching ``query``, newest first."""
        ids: list[str] = []
        page: str | None = None
        while True:
            params: dict[str, Any] = {"q": query, "maxResults": 100}
            if page:
                params["pageToken"] = page
            answer = await self._get("messages", params)
            ids.extend(str(m["id"]) for m in answer.get("messages") or [])
            page = answer.get("nextPageToken")
            if not page:
                return ids

    async def raw_message(self, message_id: str) -> dict[str, Any]:
        """``users.messages.get?format=raw``: the message with its RFC 822 bytes (base64url)."""
        return await self._get(f"messages/{message_id}", {"format": "raw"})
