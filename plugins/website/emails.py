"""Email addresses in web pages: found however they are written, cleaned, junk dropped, ranked.

Pure functions, so they can be fuzzed: none of them raises on any input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

import msgspec

from outreach.kernel import sendable_address

from .domains import same_site


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_LOCAL = r"[a-z0-9_%+'-][a-z0-9._%+'-]{0,63}"
_DOMAIN = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}"
#: A domain as a page may write it: labels of any script's letters and digits (``bücher.de``).
_WRITTEN_DOMAIN = r"(?:[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?\.)+(?:[a-z]{2,24}|xn--[a-z0-9-]{1,59})"
#: A plain address; the local part may not start with a dot, the top-level domain is letters.
EMAIL = re.compile(rf"(?<![a-z0-9._%+'-]){_LOCAL}@{_WRITTEN_DOMAIN}(?![\w-])", re.IGNORECASE)
#: An address in the form that sends: ASCII, the domain in IDNA form.
_FULL = re.compile(rf"{_LOCAL}@(?:{_DOMAIN}|(?:[a-z0-9-]{{1,63}}\.)+xn--[a-z0-9-]{{1,59}})", re.IGNORECASE)

# "name [at] domain [dot] com", "name (at) domain (dot) com", "name{at}domain{dot}com", "name [ät] ..."
_BRACKETED_AT = re.compile(r"\s*[\[\(\{<]\s*(?:at|ät|aet|@)\s*[\]\)\}>]\s*", re.IGNORECASE)
_BRACKETED_DOT = re.compile(r"\s*[\[\(\{<]\s*(?:dot|punkt|point|\.)\s*[\]\)\}>]\s*", re.IGNORECASE)
# "name at domain dot com": only when a "dot" follows, so ordinary prose is left alone.
_SPOKEN = re.compile(
    r"(?<![\w.@-])([a-z0-9][a-z0-9._%+-]{0,63})\s+(?:at|AT)\s+([a-z0-9][a-z0-9-]{0,62}(?:\s+(?:dot|DOT)\s+[a-z0-9-]{1,63})+)\b",
    re.IGNORECASE,
)
_SPOKEN_DOT = re.compile(r"\s+dot\s+", re.IGNORECASE)
_BRACKET_HINT = re.compile(r"[\[\(\{<]\s*(?:at|ät|aet|@|dot|punkt|point)\s*[\]\)\}>]", re.IGNORECASE)
_DOT_HINT = re.compile(r"\sdot\s", re.IGNORECASE)
# Leftovers of JSON or URL escaping glued to the front of an address ("u003cinfo@...").
_ESCAPE_PREFIX = re.compile(r"^(?:u00[0-9a-f]{2}|x[0-9a-f]{2}(?=[a-z]))+", re.IGNORECASE)

_FILE_TLDS = _words(
    "png jpg jpeg gif svg webp avif bmp ico tif tiff css js mjs map json xml pdf mp4 webm mov woff woff2 ttf"
)
_PLACEHOLDER_DOMAINS = _words(
    "example.com example.org example.net example.de domain.com yourdomain.com your-domain.com "
    "yoursite.com mysite.com website.com company.com email.com test.com sample.com"
)
#: Addresses that belong to the platform a site runs on, not to the business.
_PLATFORM_DOMAINS = _words(
    "sentry.io sentry-next.wixpress.com wixpress.com wix.com parastorage.com squarespace.com "
    "shopify.com godaddy.com jimdo.com weebly.com webflow.io cloudflare.com wordpress.com w3.org "
    "schema.org"
)
_PLACEHOLDER_LOCALS = _words(
    "yourname your.name youremail your-email your_email yourmail firstname.lastname vorname.nachname "
    "name.surname john.doe jane.doe johndoe janedoe max.mustermann"
)
_NO_REPLY = re.compile(r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer-daemon|bounces?)(?:[+._-].*)?$")
_HASH_LOCAL = re.compile(r"^[0-9a-f]{16,}$")

#: Free mail providers: a small business's own address often lives there.
FREE_MAIL = _words(
    "gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.de yahoo.fr yahoo.es yahoo.it ymail.com "
    "hotmail.com hotmail.co.uk hotmail.de hotmail.fr hotmail.es hotmail.it outlook.com outlook.de "
    "live.com live.de live.fr msn.com aol.com aol.de icloud.com me.com mac.com gmx.de gmx.net gmx.at "
    "gmx.ch gmx.com web.de t-online.de freenet.de posteo.de mailbox.org proton.me protonmail.com "
    "yandex.ru yandex.com mail.ru zoho.com orange.fr free.fr laposte.net wanadoo.fr sfr.fr libero.it "
    "virgilio.it tiscali.it alice.it comcast.net att.net verizon.net sbcglobal.net bellsouth.net "
    "cox.net charter.net qq.com 163.com 126.com naver.com seznam.cz wp.pl o2.pl onet.pl bluewin.ch "
    "telenet.be skynet.be terra.com.br uol.com.br bol.com.br"
)


class Found(msgspec.Struct, frozen=True):
    """One address as found on one page: how it was written and where."""

    address: str
    how: str
    page: str = ""


def clean(candidate: str) -> str | None:
    """``candidate`` as a lower-cased address in the form that sends (IDNA domain), or None."""
    # lower(), not casefold(): casefold turns ß into ss, which is another domain.
    text = unquote(candidate).strip().strip("<>()[]{}\"'.,;:").lower()
    text = sendable_address(_ESCAPE_PREFIX.sub("", text))
    if len(text) > 254 or not _FULL.fullmatch(text):
        return None
    return text


def junk_reason(address: str) -> str | None:
    """Why ``address`` is not a business's address (an image name, a placeholder...), or None."""
    local, _, domain = address.rpartition("@")
    tld = domain.rsplit(".", 1)[-1]
    if tld in _FILE_TLDS:
        return "a file name"
    if domain in _PLACEHOLDER_DOMAINS or domain.startswith("example.") or tld in ("example", "invalid"):
        return "a placeholder"
    if local in _PLACEHOLDER_LOCALS:
        return "a placeholder"
    if any(domain == p or domain.endswith("." + p) for p in _PLATFORM_DOMAINS) or ".sentry." in domain:
        return "the site platform's"
    if _HASH_LOCAL.match(local):
        return "a generated id"
    if _NO_REPLY.match(local):
        return "a no-reply address"
    return None


def from_text(text: str, how: str = "text") -> list[Found]:
    """Addresses written out in ``text``, plain or obfuscated (``[at]``, ``(dot)``, `` at ... dot ``)."""
    found = [Found(address, how) for address in _matches(text)]
    plain = {f.address for f in found}
    unmasked = text
    # The substitutions are slow on long text; most pages need none of them.
    if _BRACKET_HINT.search(text):
        unmasked = _BRACKETED_DOT.sub(".", _BRACKETED_AT.sub("@", unmasked))
    if _DOT_HINT.search(unmasked):
        unmasked = _SPOKEN.sub(lambda m: f"{m.group(1)}@{_SPOKEN_DOT.sub('.', m.group(2))}", unmasked)
    if unmasked != text:
        found.extend(Found(a, "obfuscated") for a in _matches(unmasked) if a not in plain)
    return found


def from_mailto(href: str) -> list[Found]:
    """Addresses of a ``mailto:`` link (several may be listed; the query is dropped)."""
    target = href.strip()
    if target[:7].lower() != "mailto:":
        return []
    target = target[7:].split("?", 1)[0]
    addresses = (clean(part) for part in re.split(r"[,;]", unquote(target)))
    return [Found(a, "mailto") for a in addresses if a]


def decode_cfemail(encoded: str) -> str | None:
    """Cloudflare's email protection: the first hex byte is the key, XOR it with the rest."""
    text = encoded.strip()
    if len(text) < 4 or len(text) % 2 or len(text) > 1024:
        return None
    try:
        raw = bytes.fromhex(text)
        decoded = bytes(b ^ raw[0] for b in raw[1:]).decode("utf-8")
    except ValueError:
        return None
    return clean(decoded)


def _matches(text: str) -> list[str]:
    """Every address in ``text``, found by looking around each ``@`` only (long pages are mostly prose)."""
    out = []
    searched_to = 0
    at = text.find("@")
    while at != -1:
        if at >= searched_to:
            match = EMAIL.search(text, max(searched_to, at - 70), at + 260)
            if match is not None and match.start() < at < match.end():
                address = clean(match.group(0))
                if address:
                    out.append(address)
                searched_to = match.end()
        at = text.find("@", at + 1)
    return out


def site_domain(host: str) -> str:
    """A host without its ``www.`` and port, lower-cased."""
    host = host.lower().split(":", 1)[0].rstrip(".")
    return host[4:] if host.startswith("www.") else host


def on_domain(address: str, hosts: Iterable[str]) -> bool:
    """Whether ``address`` is on one of the site's ``hosts``: the same registrable domain by the
    Public Suffix List, so ``info@mail.acme.co.uk`` is acme.co.uk's and ``spam@co.uk`` is not."""
    domain = address.rpartition("@")[2]
    return any(same_site(domain, site_domain(host)) for host in hosts if host)


def rank(found: Iterable[Found], site_hosts: Iterable[str]) -> list[dict[str, Any]]:
    """Merge ``found`` by address, drop junk, and rank: own domain first, free mail, third parties last.

    Within a tier an address linked with ``mailto:`` comes before one only written
    out, one seen on more pages before one seen on fewer, and then the first seen first.
    Each entry says where it was first seen (``source``), on which ``pages``, ``how``,
    and whether it is on the site's own domain, a free mail provider, or a third party.
    """
    hosts = [h for h in site_hosts if h]
    pages: dict[str, list[str]] = {}
    hows: dict[str, list[str]] = {}
    for item in found:
        if item.address not in pages:
            if junk_reason(item.address):
                continue
            pages[item.address], hows[item.address] = [], []
        if item.page and item.page not in pages[item.address]:
            pages[item.address].append(item.page)
        if item.how not in hows[item.address]:
            hows[item.address].append(item.how)
    entries = []
    for order, address in enumerate(pages):
        own = on_domain(address, hosts)
        free = not own and address.rpartition("@")[2] in FREE_MAIL
        tier = 0 if own else 1 if free else 2
        key = (tier, "mailto" not in hows[address], -len(pages[address]), order)
        entry = {
            "address": address,
            "source": pages[address][0] if pages[address] else None,
            "pages": pages[address],
            "how": hows[address],
            "own_domain": own,
            "free_mail": free,
            "third_party": not own and not free,
        }
        entries.append((key, entry))
    entries.sort(key=lambda pair: pair[0])
    return [{**entry, "rank": position} for position, (_, entry) in enumerate(entries, 1)]
