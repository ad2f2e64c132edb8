"""``[plugins.google_maps]``: the plugin's settings, with defaults that are polite to Google."""

from __future__ import annotations

import msgspec

from outreach.kernel import SecretRef

#: Realistic desktop browsers; one is picked per search run.
DEFAULT_USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/142.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/142.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/141.0.0.0 Safari/537.36 Edg/141.0.0.0",
]


#: The plugin's name: its config table is ``[plugins.google_maps]``, its source ``google_maps``.
PLUGIN = "google_maps"


class ProxyOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[plugins.google_maps.proxy]``: an HTTP or SOCKS proxy, with optional authentication."""

    server: str
    username: str | None = None
    password: SecretRef | None = None
    bypass: str | None = None


class GoogleMapsOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[plugins.google_maps]``."""

    #: Where Maps is; links found on its pages are followed on this same base.
    base_url: str = "https://www.google.com"
    #: Browser pages working at once (one browser in all).
    pages: int = 3
    #: Path of a Chromium binary; else ``OUTREACH_CHROMIUM``, ``/usr/bin/chromium``, Playwright's own.
    chromium: str | None = None
    headless: bool = True
    #: Language of the labels Maps answers with (``hl=``); a search's own language wins.
    language: str = "en"
    #: Seconds to wait between page loads, picked at random in ``[min, max]``.
    pause: list[float] = msgspec.field(default_factory=lambda: [1.0, 3.0])
    user_agents: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_USER_AGENTS))
    proxy: ProxyOptions | None = None
    #: Seconds a page may take to load before it counts as a miss.
    timeout: float = 30.0
    #: Places Maps lists for one search at most; more results need a grid of searches.
    per_search: int = 120
    #: Seconds to wait for more results after scrolling the list.
    scroll_wait: float = 2.0
    #: Scrolls without new results before the list counts as finished.
    idle_scrolls: int = 3
    #: Use the ``/search?tbm=map`` JSON (about 20 places per request, no scrolling) instead of the list.
    fast_path: bool = False
    #: After a ``/sorry/`` page, seconds during which no new search starts.
    sorry_cooldown: float = 900.0
    #: Nominatim, asked for places the offline gazetteer does not know; "" turns it off.
    nominatim_url: str = "https://nominatim.openstreetmap.org"
    #: An email or URL for Nominatim's usage policy (sent in the User-Agent).
    nominatim_contact: str | None = None
    #: Seconds between two Nominatim requests (its policy: at most one per second).
    nominatim_interval: float = 1.0

    def __post_init__(self) -> None:
        if self.pages < 1:
            raise ValueError("'pages' must be at least 1")
        if len(self.pause) != 2 or not 0 <= self.pause[0] <= self.pause[1]:
            raise ValueError("'pause' must be [min, max] seconds with 0 <= min <= max")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError("'base_url' must start with http:// or https://")
        if not self.user_agents:
            raise ValueError("'user_agents' needs at least one user agent")
