"""SPF and DMARC records, fetched and parsed by checkdmarc against our resolver.

checkdmarc's functions are synchronous and take a ``resolver``, so they run in a
thread with the :class:`~.lookups.Lookups` sync resolver: includes, redirects and
``a``/``mx`` terms are resolved by the configured server too. It counts the DNS
lookups an SPF evaluation needs (include, a, mx, ptr, exists, redirect, recursively);
receivers give up after 10 (RFC 7208 4.6.4).

checkdmarc also keeps a process-wide cache of answers, keyed by name alone (not by
the server asked); the doctor keeps its own, so it empties checkdmarc's before each
fetch: a record just fixed shows at once, and one server's answers never stand in
for another's. checkdmarc is imported on first use (half a second; every ``outreach``
command imports every plugin).
"""

from __future__ import annotations

import ipaddress
from typing import Any

import dns.exception

from .lookups import describe

#: RFC 7208 4.6.4: more DNS lookups than this and SPF is a permanent error.
LOOKUP_LIMIT = 10


def fetch_spf(domain: str, resolver: Any, timeout: float) -> dict[str, Any]:
    """The SPF record of ``domain``: ``state`` is ok, missing, invalid, too_many or error."""
    from checkdmarc import spf, utils

    utils.DNS_CACHE.clear()
    try:
        query = spf.query_spf_record(domain, resolver=resolver, timeout=timeout, retries=0)
    except spf.SPFRecordNotFound as exc:
        if isinstance(exc.error, dns.exception.DNSException):
            return {"state": "error", "error": describe(exc.error)}
        return {"state": "missing", "error": str(exc)}
    except spf.SPFError as exc:  # several SPF records, an oversized one
        return {"state": "invalid", "error": str(exc)}
    except (dns.exception.DNSException, OSError) as exc:
        return {"state": "error", "error": describe(exc)}
    record = query["record"]
    try:
        parsed = spf.parse_spf_record(
            record, domain, ignore_too_many_lookups=True, resolver=resolver, timeout=timeout, retries=0
        )
    except spf.SPFTooManyDNSLookups as exc:  # an include of its own that is over the limit
        lookups = (getattr(exc, "data", None) or {}).get("dns_lookups")
        return {"state": "too_many", "record": record, "lookups": lookups, "error": str(exc)}
    except spf.SPFError as exc:
        return {"state": "invalid", "record": record, "error": str(exc)}
    except (dns.exception.DNSException, OSError) as exc:
        return {"state": "error", "record": record, "error": describe(exc)}
    lookups = parsed["dns_lookups"]
    return {
        "state": "too_many" if lookups > LOOKUP_LIMIT else "ok",
        "record": record,
        "lookups": lookups,
        "parsed": parsed["parsed"],
        "warnings": list(query.get("warnings", [])) + list(parsed.get("warnings", [])),
    }


class Authorized:
    """What an SPF record lets send: address ranges, MX hosts to resolve, and the includes it names."""

    def __init__(self) -> None:
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self.mx_hosts: list[str] = []
        self.includes: list[str] = []
        #: Terms the doctor cannot evaluate offline (ptr, exists, macros).
        self.unevaluated: list[str] = []

    def add_addresses(self, addresses: list[str]) -> None:
        for address in addresses:
            self.networks.append(ipaddress.ip_network(address, strict=False))

    def covers(self, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        return any(ip.version == net.version and ip in net for net in self.networks)


def authorized(parsed: dict[str, Any]) -> Authorized:
    """Walk the parsed record (includes and redirect too) for what it passes."""
    found = Authorized()

    def walk(node: dict[str, Any] | None) -> None:
        if not node:
            return
        for term in node.get("mechanisms", []):
            kind, value = term.get("mechanism"), str(term.get("value", ""))
            if kind == "include":
                found.includes.append(value.lower())
            if term.get("action") != "pass":
                continue
            if kind in ("ip4", "ip6"):
                found.add_addresses([value])
            elif kind == "a":
                found.add_addresses(list(term.get("addresses", [])))
            elif kind == "mx":
                found.mx_hosts.extend(h["hostname"] for h in term.get("hosts", []) if h.get("hostname"))
            elif kind == "include":
                walk(term.get("parsed"))
            else:
                found.unevaluated.append(f"{kind}:{value}")
        redirect = node.get("redirect")
        if isinstance(redirect, dict):
            found.includes.append(str(redirect.get("domain", "")).lower())
            walk(redirect.get("parsed"))

    walk(parsed)
    return found


def fetch_dmarc(domain: str, resolver: Any, timeout: float) -> dict[str, Any]:
    """The DMARC record that applies to ``domain``: ``state`` is ok, missing, invalid or error."""
    from checkdmarc import dmarc, utils

    utils.DNS_CACHE.clear()
    try:
        query = dmarc.query_dmarc_record(domain, resolver=resolver, timeout=timeout, retries=0)
    except dmarc.DMARCRecordNotFound as exc:
        text = str(exc)
        if "does not exist" in text:
            return {"state": "missing", "error": text}
        return {"state": "error", "error": text}
    except dmarc.DMARCError as exc:
        if _dns_failure(exc):
            return {"state": "error", "error": str(exc)}
        return {"state": "invalid", "error": str(exc)}
    except (dns.exception.DNSException, OSError) as exc:
        return {"state": "error", "error": describe(exc)}
    try:
        parsed = dmarc.parse_dmarc_record(
            query["record"], query["location"], resolver=resolver, timeout=timeout, retries=0
        )
    except dmarc.DMARCError as exc:
        if _dns_failure(exc):
            return {"state": "error", "record": query["record"], "error": str(exc)}
        return {
            "state": "invalid",
            "record": query["record"],
            "location": query["location"],
            "error": str(exc),
        }
    except (dns.exception.DNSException, OSError) as exc:
        return {"state": "error", "record": query["record"], "error": describe(exc)}
    tags = {name: tag["value"] for name, tag in parsed["tags"].items()}
    return {
        "state": "ok",
        "record": query["record"],
        "location": query["location"],
        "tags": tags,
        "warnings": list(query.get("warnings", [])) + list(parsed.get("warnings", [])),
    }


def _dns_failure(exc: BaseException) -> bool:
    """Whether checkdmarc's error is DNS not answering (it wraps those in its own errors)."""
    cause = exc.__cause__ or exc.__context__
    return isinstance(cause, dns.exception.DNSException | OSError) or "timed out" in str(exc)
