"""``[plugins.deliverability]``: where the doctor's DNS questions go, and the override of its gate."""

from __future__ import annotations

from typing import Annotated

import msgspec


class DeliverabilityOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[plugins.deliverability]``."""

    #: The DNS server to ask (an IP address); the system's resolvers when unset.
    nameserver: str | None = None
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 53
    #: Seconds one DNS lookup may take.
    timeout: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    #: Seconds the SMTP server has to greet and answer EHLO when its TLS is checked.
    smtp_timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    #: Seconds a domain's findings are kept before a first email asks DNS again.
    cache_ttl: Annotated[float, msgspec.Meta(ge=0)] = 3600.0


class SmtpView(msgspec.Struct, kw_only=True):
    """The keys of ``[sender.smtp]`` the doctor reads (the smtp plugin checks the table itself)."""

    host: str = "localhost"
    port: int = 587
    starttls: bool | None = None
    tls: bool = False
    validate_certs: bool = True
    cert_bundle: str | None = None
    local_hostname: str | None = None
    dkim_selector: str | None = None
    dkim_private_key: str | None = None
