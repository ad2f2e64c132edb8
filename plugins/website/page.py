"""What one HTML page says about a business: addresses, phone text, links, socials, title.

:func:`parse_page` is pure and never raises, whatever bytes or text it is given.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin, urlsplit, urlunsplit

import msgspec
from selectolax.lexbor import LexborHTMLParser

from .emails import Found, clean, decode_cfemail, from_mailto, from_text
from .structured import Person, read_structured

#: How much visible text is kept for finding phone numbers (the matcher is slow on huge text).
TEXT_LIMIT = 100_000
_SPACES = re.compile(r"\s+")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)

#: Social networks by host, with paths that are sharing widgets rather than a profile.
SOCIAL_HOSTS = {
    "facebook.com": "facebook",
    "fb.com": "facebook",
    "instagram.com": "instagram",
    "linkedin.com": "linkedin",
    "x.com": "x",
    "twitter.com": "x",
    "youtube.com": "youtube",
    "tiktok.com": "tiktok",
}
_NOT_A_PROFILE = re.compile(
    r"^/(?:(?:sharer|share|intent|tr|dialog|plugins|shareArticle|sharing|home|login|signup|hashtag|search|"
    r"watch|embed|privacy|legal|policies|help|about|terms)(?:[/.?]|$)|(?:p|reel|reels|posts|status|video)/)",
    re.IGNORECASE,
)


class Link(msgspec.Struct, frozen=True):
    """A link on a page: where it goes and what it says."""

    url: str
    text: str


class PageFacts(msgspec.Struct, kw_only=True):
    """Everything :func:`parse_page` found on one page."""

    title: str | None = None
    description: str | None = None
    headline: str | None = None
    site_name: str | None = None
    emails: list[Found] = []
    tel_links: list[str] = []
    text: str = ""
    links: list[Link] = []
    socials: dict[str, str] = {}
    #: People the page's structured data names (JSON-LD ``Person``, schema.org microdata).
    people: list[Person] = []


def decode_body(body: bytes, charset: str | None = None) -> str:
    """Bytes of a page as text: the header's charset, else a ``<meta charset>``, else UTF-8."""
    for candidate in (charset, _meta_charset(body), "utf-8"):
        if not candidate:
            continue
        try:
            return body.decode(candidate, errors="replace")
        except LookupError:
            continue
    return body.decode("utf-8", errors="replace")


def _meta_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:4096])
    return match.group(1).decode("ascii", errors="ignore") if match else None


def _clean(text: str | None, limit: int = 300) -> str | None:
    if not text:
        return None
    text = _SPACES.sub(" ", text).strip()
    return text[:limit] or None


def parse_page(content: str | bytes, base_url: str) -> PageFacts:
    """Parse one page; anything unreadable yields empty facts rather than an error."""
    text = decode_body(content) if isinstance(content, bytes) else content
    # Lexbor stops at a NUL; a page with one is broken anyway, so read on past it.
    text = text.replace("\x00", " ")
    try:
        tree = LexborHTMLParser(text)
    except Exception:  # the parser refuses some inputs outright; an empty page then
        return PageFacts()
    facts = PageFacts()
    _read_meta(tree, facts)
    _read_links(tree, base_url, facts)
    for node in tree.css("[data-cfemail]"):
        address = decode_cfemail(node.attributes.get("data-cfemail") or "")
        if address:
            facts.emails.append(Found(address, "cloudflare"))
    structured = read_structured(tree)
    tree.strip_tags(["script", "style", "noscript", "template", "svg"])
    body = tree.body
    visible = (body.text(separator=" ") if body is not None else tree.root.text(separator=" ")) or ""
    facts.text = visible[:TEXT_LIMIT]
    facts.emails.extend(from_text(facts.text))
    # Addresses only in structured data come last: JSON-LD read as JSON, then any block that
    # was not valid JSON searched as text.
    for written in structured.emails:
        address = clean(written)
        if address:
            facts.emails.append(Found(address, "json-ld"))
    for block in structured.unreadable:
        facts.emails.extend(Found(f.address, "markup") for f in from_text(html.unescape(block)))
    facts.tel_links.extend(structured.telephones)
    for url in structured.same_as:
        profile = social_profile(url)
        if profile and profile[0] not in facts.socials:
            facts.socials[profile[0]] = profile[1]
    facts.people = structured.people
    return facts


def _read_meta(tree: LexborHTMLParser, facts: PageFacts) -> None:
    title = tree.css_first("title")
    facts.title = _clean(title.text() if title is not None else None)
    headline = tree.css_first("h1")
    facts.headline = _clean(headline.text(separator=" ") if headline is not None else None)
    for meta in tree.css("meta"):
        attributes = meta.attributes
        key = (attributes.get("name") or attributes.get("property") or "").strip().lower()
        content = _clean(attributes.get("content"), 500)
        if not content:
            continue
        if key == "description" or (key == "og:description" and not facts.description):
            facts.description = content
        elif key == "og:title" and not facts.title:
            facts.title = content[:300]
        elif key == "og:site_name":
            facts.site_name = content[:200]


def _read_links(tree: LexborHTMLParser, base_url: str, facts: PageFacts) -> None:
    seen: set[str] = set()
    for node in tree.css("a[href], area[href]"):
        href = (node.attributes.get("href") or "").strip()
        lowered = href[:12].lower()
        if lowered.startswith("mailto:"):
            facts.emails.extend(from_mailto(href))
            continue
        if lowered.startswith("tel:"):
            facts.tel_links.append(href[4:])
            continue
        if "/cdn-cgi/l/email-protection" in href:
            address = decode_cfemail(href.rpartition("#")[2])
            if address:
                facts.emails.append(Found(address, "cloudflare"))
            continue
        url = absolute(base_url, href)
        if url is None or url in seen:
            continue
        seen.add(url)
        label = node.text(separator=" ") or node.attributes.get("title") or node.attributes.get("aria-label")
        facts.links.append(Link(url, _clean(label, 120) or ""))
        profile = social_profile(url)
        if profile and profile[0] not in facts.socials:
            facts.socials[profile[0]] = profile[1]


def absolute(base_url: str, href: str) -> str | None:
    """``href`` resolved against ``base_url``, without its fragment; None unless it is http(s)."""
    try:
        parts = urlsplit(urljoin(base_url, href))
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


def social_profile(url: str) -> tuple[str, str] | None:
    """The network (``facebook``, ``x``...) of a profile link, and the link without its query.

    None when the link is not a profile (a share button, a post, a login page).
    """
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    for prefix in ("www.", "m.", "mobile.", "de-de.", "business."):
        host = host.removeprefix(prefix)
    network = SOCIAL_HOSTS.get(host)
    if network is None or len(parts.path.strip("/")) < 2 or _NOT_A_PROFILE.match(parts.path):
        return None
    return network, urlunsplit(("https", parts.netloc.lower(), parts.path.rstrip("/"), "", ""))
