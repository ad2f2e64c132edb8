"""Which further pages of a site to read: contact, imprint, about and team pages, in many languages."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from .emails import site_domain
from .page import Link

#: Kinds of page worth a visit, most useful first, with the words that name them.
KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "contact",
        (
            "contact",
            "kontakt",
            "contacto",
            "contatti",
            "contato",
            "contactez",
            "get in touch",
            "get-in-touch",
            "reach us",
            "kontaktieren",
            "yhteystiedot",
            "kontakta",
        ),
    ),
    (
        "imprint",
        (
            "impressum",
            "imprint",
            "legal notice",
            "legal-notice",
            "mentions légales",
            "mentions-legales",
            "aviso legal",
            "aviso-legal",
            "note legali",
            "note-legali",
            "colofon",
        ),
    ),
    (
        "about",
        (
            "about",
            "a-propos",
            "apropos",
            "à propos",
            "qui sommes",
            "qui-sommes",
            "ueber-uns",
            "uber-uns",
            "über uns",
            "über-uns",
            "ueber uns",
            "chi siamo",
            "chi-siamo",
            "quienes somos",
            "quienes-somos",
            "quiénes somos",
            "sobre nosotros",
            "sobre-nosotros",
            "sobre-nos",
            "sobre nós",
            "nosotros",
            "over ons",
            "over-ons",
            "om oss",
            "om-oss",
        ),
    ),
    ("team", ("team", "equipe", "équipe", "equipo", "staff", "our people", "mitarbeiter", "squadra")),
)
_SKIP_SUFFIXES = (".pdf", ".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg", ".zip", ".doc", ".docx", ".mp4")


def page_kind(link: Link) -> str | None:
    """The kind of page ``link`` leads to, judged by its text and its path, or None."""
    text = link.text.casefold()
    path = unquote(urlsplit(link.url).path).casefold().replace("_", "-")
    for kind, words in KINDS:
        if any(word in text or word.replace(" ", "-") in path for word in words):
            return kind
    return None


def choose_pages(
    links: list[Link], site_hosts: set[str], visited: set[str], limit: int
) -> list[tuple[str, str]]:
    """Up to ``limit`` ``(url, kind)`` pages of this site to read next: one of each kind first."""
    domains = {site_domain(host) for host in site_hosts}
    candidates: list[tuple[int, int, str, str]] = []
    seen = set(visited)
    order = [kind for kind, _ in KINDS]
    for position, link in enumerate(links):
        parts = urlsplit(link.url)
        if site_domain(parts.netloc) not in domains or parts.path.lower().endswith(_SKIP_SUFFIXES):
            continue
        url = link.url
        kind = page_kind(link)
        if kind is None or url in seen:
            continue
        seen.add(url)
        candidates.append((order.index(kind), position, url, kind))
    candidates.sort()
    first, rest, kinds = [], [], set()
    for _, _, url, kind in candidates:
        (rest if kind in kinds else first).append((url, kind))
        kinds.add(kind)
    return (first + rest)[:limit]
