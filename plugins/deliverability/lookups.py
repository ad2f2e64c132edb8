"""DNS questions for the doctor, asked with dnspython of one configurable server.

The nameserver is the system's, or the one ``[plugins.deliverability] nameserver``
and ``port`` name (tests point it at a server of their own on loopback). The same
server answers dnspython's asynchronous lookups here and checkdmarc's synchronous
ones (its functions take a ``resolver``), so SPF includes and the SMTP host's
address are resolved by one and the same server.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from .options import DeliverabilityOptions

if TYPE_CHECKING:
    import dns.asyncresolver
    import dns.resolver


class LookupFailed(Exception):
    """DNS gave no answer either way (a timeout, a server failure, no server configured)."""


def describe(exc: BaseException) -> str:
    """A short sentence for a DNS error."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


class Lookups:
    """One resolver configuration, in the async form (for us) and the sync form (for checkdmarc)."""

    def __init__(self, options: DeliverabilityOptions) -> None:
        # dnspython takes a fifth of a second to import; only a lookup needs it.
        import dns.asyncresolver
        import dns.exception
        import dns.resolver

        self.options = options
        self.unavailable: str | None = None
        self.resolver: dns.asyncresolver.Resolver | None = None
        self.sync_resolver: dns.resolver.Resolver | None = None
        configure = options.nameserver is None
        try:
            resolvers = (
                dns.asyncresolver.Resolver(configure=configure),
                dns.resolver.Resolver(configure=configure),
            )
        except dns.exception.DNSException as exc:  # no /etc/resolv.conf, and none configured
            self.unavailable = f"no DNS server is configured ({describe(exc)})"
            return
        for resolver in resolvers:
            if options.nameserver is not None:
                resolver.nameservers = [options.nameserver]
                resolver.port = options.port
            resolver.timeout = options.timeout
            resolver.lifetime = options.timeout
        self.resolver, self.sync_resolver = resolvers

    @property
    def source(self) -> str:
        """Which server answers, for the report."""
        if self.options.nameserver is not None:
            return f"{self.options.nameserver}:{self.options.port}"
        return "the system's resolvers"

    async def _answer(self, name: str, rdtype: str) -> dns.resolver.Answer | None:
        import dns.exception
        import dns.resolver

        if self.resolver is None:
            raise LookupFailed(self.unavailable)
        try:
            return await self.resolver.resolve(name, rdtype)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        except dns.exception.DNSException as exc:
            raise LookupFailed(describe(exc)) from None

    async def txt(self, name: str) -> list[str]:
        """The TXT records at ``name``, each one's character-strings joined; [] for none."""
        answer = await self._answer(name, "TXT")
        if answer is None:
            return []
        return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]

    async def mx(self, domain: str) -> list[tuple[int, str]]:
        """The MX records of ``domain``, by preference; [] for none."""
        answer = await self._answer(domain, "MX")
        if answer is None:
            return []
        return sorted((r.preference, str(r.exchange).rstrip(".").lower()) for r in answer)

    async def addresses(self, host: str) -> list[str]:
        """The IPv4 and IPv6 addresses of ``host`` (itself when it is an address)."""
        try:
            return [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            pass
        if host.lower().rstrip(".") == "localhost" or host.lower().endswith(".localhost"):
            return ["127.0.0.1", "::1"]  # RFC 6761: never asked of DNS
        found: list[str] = []
        for rdtype in ("A", "AAAA"):
            answer = await self._answer(host, rdtype)
            found.extend(str(r.address) for r in answer or [])
        return found
