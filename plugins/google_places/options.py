"""``[plugins.google_places]``: the Google Cloud key and where the Places API (New) is."""

from __future__ import annotations

import msgspec

from outreach.kernel import SecretRef

#: The plugin's name: its config table is ``[plugins.google_places]``, its source ``google_places``.
PLUGIN = "google_places"

#: The largest radius (metres) the Places API accepts for a location bias circle.
MAX_RADIUS_M = 50_000.0


class GooglePlacesOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[plugins.google_places]``."""

    #: A Google Cloud API key with the Places API (New) enabled, as ``env:NAME`` or ``keyring:service/name``.
    api_key: SecretRef | None = None
    #: Where the Places API is (a local server in tests).
    base_url: str = "https://places.googleapis.com"
    #: Language of names and categories when a search does not ask for another.
    language: str = "en"
    #: Radius (metres) of the circle results are biased to when the place's size is unknown.
    radius_m: float = 10_000.0
    #: Places one search returns when it sets no maximum (the API gives at most 60 per query).
    max_results: int = 60
    #: Seconds one request may take.
    timeout: float = 20.0

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError("'base_url' must start with http:// or https://")
        if not 0 < self.radius_m <= MAX_RADIUS_M:
            raise ValueError(f"'radius_m' must be more than 0 and at most {MAX_RADIUS_M:.0f} metres")
        if self.max_results < 1:
            raise ValueError("'max_results' must be at least 1")
        if self.timeout <= 0:
            raise ValueError("'timeout' must be more than 0 seconds")
