"""Posting a query to an Overpass API server, politely: an identifying User-Agent and backoff.

Public Overpass instances answer 429 when one address asks too much and 504 when they are
overloaded; both are tried again after the ``Retry-After`` the server gives (else a delay
that doubles), a few times, then the search stops with a sentence.
"""

from __future__ import annotations

import asyncio
import email.utils
import re
import time
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import httpx
import structlog

from outreach.kernel import DiscoveryError

from .options import OpenStreetMapOptions

log = structlog.get_logger("outreach.plugins.openstreetmap")

#: Answers that mean "busy, ask again later".
RETRIED = {429, 504}


def user_agent(contact: str | None) -> str:
    """``outreach/<version> (+contact)``, as the Overpass instances' usage policies ask."""
    try:
        release = version("outreach")
    except PackageNotFoundError:
        release = "dev"
    return f"outreach/{release} (+{contact})" if contact else f"outreach/{release}"


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (a number or an HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _busy(status: int) -> str:
    return "too many requests (HTTP 429)" if status == 429 else "overloaded (HTTP 504 Gateway Timeout)"


class OverpassClient:
    """Runs Overpass QL queries on one server."""

    def __init__(self, options: OpenStreetMapOptions) -> None:
        self.options = options
        self.url = options.overpass_url

    async def run(self, query: str) -> dict[str, Any]:
        """The JSON answer to ``query``; a :class:`DiscoveryError` saying what to do when there is none."""
        options = self.options
        headers = {"User-Agent": user_agent(options.contact), "Accept": "application/json"}
        delay = options.retry_delay
        async with httpx.AsyncClient(
            # The server may work for [timeout:N] seconds before it answers.
            timeout=options.timeout + 30,
            headers=headers,
            trust_env=False,
        ) as client:
            for attempt in range(options.retries + 1):
                response = await self._post(client, query)
                if response.status_code not in RETRIED:
                    return self._answer(response)
                wait = retry_after(response.headers.get("Retry-After"))
                wait = delay if wait is None else wait
                if attempt == options.retries:
                    break
                if wait > options.max_retry_wait:
                    raise DiscoveryError(
                        f"The Overpass server {self.url} is {_busy(response.status_code)} and asks to "
                        f"wait {wait:.0f} seconds. Try again later, or set [plugins.openstreetmap] "
                        "overpass_url to another Overpass instance."
                    )
                log.info("overpass_busy", status=response.status_code, attempt=attempt + 1, wait=wait)
                await asyncio.sleep(wait)
                delay *= 2
        raise DiscoveryError(
            f"The Overpass server {self.url} is {_busy(response.status_code)}, and still was after "
            f"{options.retries + 1} tries. Try again in a few minutes, with a smaller radius, or set "
            "[plugins.openstreetmap] overpass_url to another Overpass instance."
        )

    async def _post(self, client: httpx.AsyncClient, query: str) -> httpx.Response:
        try:
            return await client.post(self.url, data={"data": query})
        except httpx.HTTPError as exc:
            raise DiscoveryError(
                f"The Overpass server {self.url} could not be reached ({type(exc).__name__}); check the "
                "network connection and [plugins.openstreetmap] overpass_url."
            ) from None

    def _answer(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code != 200:
            # Overpass explains a refused query in an HTML page; its text is the explanation.
            first = " ".join(re.sub(r"<[^>]+>", " ", response.text).split())[:200]
            raise DiscoveryError(
                f"The Overpass server {self.url} refused the query (HTTP {response.status_code}"
                f"{': ' + first if first else ''})."
            )
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("elements", []), list):
            raise DiscoveryError(
                f"The Overpass server {self.url} did not answer with Overpass JSON; check "
                "[plugins.openstreetmap] overpass_url (it names the interpreter, .../api/interpreter)."
            )
        remark = str(payload.get("remark") or "")
        if "error" in remark.lower() and not payload.get("elements"):
            # Overpass reports a query that ran out of time or memory as a remark on a 200.
            raise DiscoveryError(
                f"The Overpass server {self.url} could not finish the query ({remark.strip()}). "
                "Search a smaller radius ([plugins.openstreetmap] radius_m) or try again later."
            )
        return payload
