"""Mail servers of a domain, asked of DNS with dnspython, remembered for a while.

The nameserver is the system's, or the one ``[plugins.email_check] nameserver``
names (tests point it at a server of their own). Answers are cached per domain for
``cache_ttl`` seconds, and leads on the same domain share one question in flight;
failed lookups are not cached, so the next lead asks again.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time

import dns.asyncresolver
import dns.exception
import dns.resolver
import msgspec

from .options import EmailCheckOptions


class MxAnswer(msgspec.Struct, kw_only=True):
    """What DNS said about a domain's mail.

    ``status`` is ``ok`` (MX records), ``address_only`` (no MX, but an address
    record mail falls back to), ``null_mx`` (the domain says it takes no mail),
    ``no_mail`` (neither MX nor address), ``no_domain`` (NXDOMAIN) or ``error``.
    """

    status: str
    hosts: list[str] = []
    error: str | None = None


class MxLookup:
    """Looks up and caches the mail servers of domains."""

    def __init__(self, options: EmailCheckOptions) -> None:
        self.options = options
        self._cache: dict[str, tuple[float, asyncio.Future[MxAnswer]]] = {}
        self._resolver: dns.asyncresolver.Resolver | None = None
        self._unavailable: str | None = None
        try:
            resolver = dns.asyncresolver.Resolver(configure=options.nameserver is None)
        except dns.exception.DNSException as exc:  # no /etc/resolv.conf, and none configured
            self._unavailable = f"no DNS server is configured ({exc})"
            return
        if options.nameserver is not None:
            resolver.nameservers = [options.nameserver]
            resolver.port = options.port
        resolver.lifetime = options.timeout
        resolver.timeout = options.timeout
        self._resolver = resolver

    @property
    def source(self) -> str:
        """Where the answers come from, for the record."""
        if self.options.nameserver is not None:
            return f"dns:{self.options.nameserver}:{self.options.port}"
        return "dns:system"

    async def lookup(self, domain: str) -> MxAnswer:
        """The answer for ``domain``, from the cache when it is fresh."""
        now = time.monotonic()
        cached = self._cache.get(domain)
        if cached is None or cached[0] < now:
            if len(self._cache) > 50_000:
                self._cache = {k: v for k, v in self._cache.items() if v[0] >= now}
            cached = (now + self.options.cache_ttl, asyncio.ensure_future(self._resolve(domain)))
            self._cache[domain] = cached
        answer = await asyncio.shield(cached[1])
        if answer.status == "error" and self._cache.get(domain) is cached:
            del self._cache[domain]
        return answer

    async def addresses(self, host: str) -> list[str]:
        """The IP addresses of a mail server (IPv4 first), asked of the same nameserver; none on failure."""
        if _is_address(host):
            return [host]
        if self._resolver is None:
            return []
        found: list[str] = []
        for rdtype in ("A", "AAAA"):
            try:
                answer = await self._resolver.resolve(host, rdtype)
            except dns.exception.DNSException:
                continue
            found.extend(str(record) for record in answer)
        return found

    async def _resolve(self, domain: str) -> MxAnswer:
        if self._resolver is None:
            return MxAnswer(status="error", error=self._unavailable)
        try:
            answer = await self._resolver.resolve(domain, "MX")
        except dns.resolver.NXDOMAIN:
            return MxAnswer(status="no_domain")
        except dns.resolver.NoAnswer:
            return await self._address_fallback(domain)
        except dns.exception.DNSException as exc:
            return MxAnswer(status="error", error=_describe(exc))
        records = sorted(answer, key=lambda r: (r.preference, str(r.exchange)))
        hosts = [str(r.exchange).rstrip(".") for r in records]
        if hosts == [""]:  # RFC 7505: a single "MX 0 ." means no mail at all
            return MxAnswer(status="null_mx")
        return MxAnswer(status="ok", hosts=[h for h in hosts if h])

    async def _address_fallback(self, domain: str) -> MxAnswer:
        """RFC 5321: without MX, mail goes to the domain's own address, if it has one."""
        assert self._resolver is not None
        for rdtype in ("A", "AAAA"):
            try:
                await self._resolver.resolve(domain, rdtype)
            except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
                continue
            except dns.exception.DNSException as exc:
                return MxAnswer(status="error", error=_describe(exc))
            return MxAnswer(status="address_only", hosts=[domain])
        return MxAnswer(status="no_mail")


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__
