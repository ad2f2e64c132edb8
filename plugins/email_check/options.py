"""``[plugins.email_check]``: where DNS questions go and how long answers are kept."""

from __future__ import annotations

from typing import Annotated

import msgspec


class EmailCheckOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[plugins.email_check]``."""

    #: The DNS server to ask (an IP address); the system's resolvers when unset.
    nameserver: str | None = None
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 53
    #: Seconds one lookup may take.
    timeout: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    #: Seconds a domain's answer is kept.
    cache_ttl: Annotated[float, msgspec.Meta(ge=0)] = 3600.0
    #: When the lead's address is invalid, how many other addresses from its website to try.
    alternatives: Annotated[int, msgspec.Meta(ge=0, le=10)] = 3
