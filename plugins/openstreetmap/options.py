"""``[plugins.openstreetmap]``: which Overpass server, how far around the place, who is asking."""

from __future__ import annotations

import msgspec

#: The plugin's name: its config table is ``[plugins.openstreetmap]``, its source ``openstreetmap``.
PLUGIN = "openstreetmap"


class OpenStreetMapOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[plugins.openstreetmap]``."""

    #: The Overpass API interpreter the query is posted to.
    overpass_url: str = "https://overpass-api.de/api/interpreter"
    #: Metres around the searched place (a search's ``radius_m`` option wins).
    radius_m: int = 5000
    #: An email or URL sent in the User-Agent, as the public Overpass instances ask.
    contact: str | None = None
    #: Seconds the Overpass server may spend on the query (``[timeout:N]``).
    timeout: int = 60
    #: Tries after a busy answer (HTTP 429 or 504) before the search gives up.
    retries: int = 3
    #: Seconds before the first retry when the server says no ``Retry-After``; doubled each time.
    retry_delay: float = 5.0
    #: The longest wait outreach accepts between tries; a longer ``Retry-After`` ends the search.
    max_retry_wait: float = 120.0

    def __post_init__(self) -> None:
        if not self.overpass_url.startswith(("http://", "https://")):
            raise ValueError("'overpass_url' must start with http:// or https://")
        if not 1 <= self.radius_m <= 100_000:
            raise ValueError("'radius_m' must be from 1 to 100000 metres")
        if self.timeout < 1:
            raise ValueError("'timeout' must be at least 1 second")
        if self.retries < 0 or self.retry_delay < 0 or self.max_retry_wait < 0:
            raise ValueError("'retries', 'retry_delay' and 'max_retry_wait' cannot be negative")
