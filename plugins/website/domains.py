"""Which domain a host or address belongs to, by the Public Suffix List.

``shop.acme.co.uk`` and ``acme.co.uk`` are one site (registrable domain ``acme.co.uk``);
``co.uk`` is a suffix that no business owns, and ``github.io`` a suffix under which each
subdomain is someone else's. The list is the one bundled with ``publicsuffixlist`` (its
releases track the official list), so nothing is downloaded at run time.
"""

from __future__ import annotations

import functools
import ipaddress

import idna
from publicsuffixlist import PublicSuffixList


@functools.cache
def _list() -> PublicSuffixList:
    # Parsing the list takes a few tens of milliseconds: once per process, when first needed.
    return PublicSuffixList()


def ascii_domain(domain: str) -> str:
    """``domain`` lower-cased, without a trailing dot, with non-ASCII labels in IDNA (``xn--``) form.

    A domain IDNA refuses (a label too long, a character it disallows) is returned lower-cased:
    comparisons then fail rather than raise.
    """
    domain = domain.strip().rstrip(".").lower()
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        return domain


def registrable(domain: str) -> str | None:
    """The domain someone registered (``acme.co.uk`` for ``www.acme.co.uk``), in ASCII form.

    None for a public suffix itself (``co.uk``), a name with no suffix (``localhost``) and an
    IP address: none of those names one business.
    """
    name = ascii_domain(domain)
    try:
        ipaddress.ip_address(name.strip("[]"))
        return None
    except ValueError:
        pass
    return _list().privatesuffix(name)


def same_site(domain: str, host: str) -> bool:
    """Whether ``domain`` (an address's) belongs to the site at ``host``.

    They share a registrable domain; a host that has none (``localhost``, an IP address) is
    matched only by exactly itself.
    """
    domain, host = ascii_domain(domain), ascii_domain(host)
    site = registrable(host)
    if site is None:
        return bool(host) and domain == host
    return registrable(domain) == site
