"""One Text Search request to the Places API (New), and its errors as sentences."""

from __future__ import annotations

from typing import Any

import httpx

from outreach.kernel import DiscoveryError

#: The response fields outreach reads; the API bills by the fields asked for, so only these.
FIELD_MASK = ",".join(
    (
        "places.id",
        "places.displayName",
        "places.formattedAddress",
        "places.addressComponents",
        "places.nationalPhoneNumber",
        "places.internationalPhoneNumber",
        "places.websiteUri",
        "places.googleMapsUri",
        "places.rating",
        "places.userRatingCount",
        "places.location",
        "places.primaryType",
        "places.primaryTypeDisplayName",
        "places.types",
        "places.businessStatus",
        "nextPageToken",
    )
)

SEARCH_PATH = "/v1/places:searchText"

_KEY_HINT = "[plugins.google_places] api_key"


class PlacesClient:
    """Sends Text Search requests with one key; use as ``async with PlacesClient(...) as client``."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 20.0) -> None:
        self.url = base_url.rstrip("/") + SEARCH_PATH
        self.base_url = base_url
        self._client = httpx.AsyncClient(
            timeout=timeout,
            # The key travels in a header, never in the URL, so it is not in any log line.
            headers={"X-Goog-Api-Key": api_key, "X-Goog-FieldMask": FIELD_MASK},
            trust_env=False,
        )

    async def __aenter__(self) -> PlacesClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def search(self, body: dict[str, Any]) -> dict[str, Any]:
        """One page of results for ``body``: the API's JSON (``places``, ``nextPageToken``)."""
        try:
            response = await self._client.post(self.url, json=body)
        except httpx.HTTPError as exc:
            raise DiscoveryError(
                f"The Google Places API at {self.base_url} could not be reached ({type(exc).__name__}); "
                "check the network connection and [plugins.google_places] base_url."
            ) from None
        payload = _json(response)
        if response.status_code != 200 or (isinstance(payload, dict) and "error" in payload):
            raise DiscoveryError(problem(response.status_code, payload))
        if not isinstance(payload, dict):
            raise DiscoveryError(
                f"The Google Places API at {self.base_url} answered something that is not its JSON; "
                "check [plugins.google_places] base_url."
            )
        return payload


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        if response.status_code == 200:
            return None
        return {}


def problem(status: int, payload: Any) -> str:
    """What went wrong, and what to do, from an HTTP status and the API's ``error`` object."""
    error = payload.get("error") if isinstance(payload, dict) else None
    error = error if isinstance(error, dict) else {}
    code = str(error.get("status") or "")
    message = str(error.get("message") or "").strip()
    reasons = {
        str(detail.get("reason"))
        for detail in error.get("details") or []
        if isinstance(detail, dict) and detail.get("reason")
    }
    said = f" (HTTP {status}{' ' + code if code else ''}{': ' + message if message else ''})"
    if status == 429 or code == "RESOURCE_EXHAUSTED":
        return (
            f"The Google Places API quota is used up{said}. Wait for it to reset, or raise the quota "
            "of the Places API (New) in the Google Cloud console (APIs & Services, Quotas)."
        )
    if "API_KEY_INVALID" in reasons or status == 401:
        return f"Google refused the API key{said}. Check {_KEY_HINT}: it must name a valid Google Cloud key."
    if status == 403 or code == "PERMISSION_DENIED":
        return (
            f"Google refused the request with this API key{said}. Check {_KEY_HINT}, that the "
            "Places API (New) is enabled and billing is on for the key's project, and the key's "
            "API and address restrictions."
        )
    if status >= 500:
        return f"The Google Places API failed{said}; try again in a few minutes."
    return f"The Google Places API refused the search{said}."
