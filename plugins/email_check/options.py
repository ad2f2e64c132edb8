"""``[plugins.email_check]``: where DNS questions go, how long answers are kept, and the mailbox probe."""

from __future__ import annotations

from typing import Annotated

import msgspec

from outreach.kernel import ConfigError


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

    #: Ask the domain's mail server whether the mailbox exists (EHLO, MAIL FROM, RCPT TO, QUIT; never DATA).
    smtp_probe: bool = False
    #: The port the mail servers are asked on; 25 everywhere but in tests.
    probe_port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 25
    #: The name given in EHLO: a name of this machine that resolves to it (servers check).
    probe_helo: str | None = None
    #: The address given in MAIL FROM: one that receives mail, since servers may check it too.
    probe_from: str | None = None
    #: Seconds the connection and each command of a probe may take.
    probe_timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    #: Seconds between two probes of the same domain.
    probe_interval: Annotated[float, msgspec.Meta(ge=0)] = 5.0
    #: Seconds a probe's verdict on an address is kept (``unknown`` verdicts are not kept).
    probe_cache_ttl: Annotated[float, msgspec.Meta(ge=0)] = 86400.0
    #: After this many domains in a row could not be reached, outbound port 25 is taken as blocked.
    probe_blocked_after: Annotated[int, msgspec.Meta(ge=1)] = 3
    #: Seconds probing then rests; and seconds before a server that could not be reached is tried again.
    probe_blocked_pause: Annotated[float, msgspec.Meta(ge=0)] = 900.0
    #: How many guessed addresses one probe session may ask about.
    guess_limit: Annotated[int, msgspec.Meta(ge=1, le=20)] = 8

    def __post_init__(self) -> None:
        if self.smtp_probe and not (self.probe_helo and self.probe_from):
            raise ConfigError(
                "[plugins.email_check] smtp_probe = true needs probe_helo (this machine's name, "
                "e.g. mail.example.com) and probe_from (an address that receives mail)."
            )
        if self.probe_from is not None and "@" not in self.probe_from:
            raise ConfigError("[plugins.email_check] probe_from must be an email address.")
