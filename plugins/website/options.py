"""``[plugins.website]``: how the website enricher fetches."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

import msgspec

from outreach.kernel import ConfigError

DEFAULT_USER_AGENT = "Mozilla/5.0 (compatible; outreach/0.1; local business research)"


class WebsiteOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[plugins.website]``."""

    #: One proxy for every request (``http://host:port``); else HTTP_PROXY/HTTPS_PROXY apply.
    proxy: str | None = None
    #: Seconds one page may take, from the request to its last byte.
    timeout: Annotated[float, msgspec.Meta(gt=0)] = 15.0
    #: Seconds to wait for a connection.
    connect_timeout: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    #: Bytes read of one page at most; the rest is not downloaded.
    max_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 1_000_000
    #: Pages read besides the first (contact, imprint, about, team).
    max_pages: Annotated[int, msgspec.Meta(ge=0, le=20)] = 4
    #: Seconds between two requests to the same host.
    host_delay: Annotated[float, msgspec.Meta(ge=0)] = 0.5
    max_redirects: Annotated[int, msgspec.Meta(ge=0, le=20)] = 5
    user_agent: str = DEFAULT_USER_AGENT
    #: Seconds a site's robots.txt is trusted before it is read again.
    robots_ttl: Annotated[float, msgspec.Meta(ge=0)] = 3600.0

    def __post_init__(self) -> None:
        if self.proxy is None:
            return
        parts = urlsplit(self.proxy)
        if parts.scheme not in ("http", "https", "socks5", "socks5h") or not parts.hostname:
            raise ConfigError(f"[plugins.website] proxy must look like http://host:port, not '{self.proxy}'.")
        if parts.username or parts.password:
            raise ConfigError(
                "[plugins.website] proxy holds a password, which the config file must not; "
                "set HTTPS_PROXY and HTTP_PROXY in the environment instead."
            )
