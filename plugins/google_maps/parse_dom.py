"""Reading places from Maps HTML: result cards and place pages.

Pure functions over HTML text (selectolax), so the saved captures in the tests and the
live pages in the browser go through the same code: the browser hands over the page's
HTML and these read it. Every field follows its selector chain in :mod:`.selectors`.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from . import selectors as css
from .fields import clean, parse_count, parse_rating, unwrap_redirect, without_label
from .result import PlaceResult

_NUMBERS = re.compile(r"\d[\d.,\u00a0\u202f]*")
_OPENING = re.compile(r"\b(open|closed|closes|opens)\b", re.I)
_PRICE = re.compile(r"^[$€£¥₹]{1,4}(?:[–-][$€£¥₹]{1,4})?$|^[$€£¥₹]?\d+[–-]\d+")
_HIDE_HOURS = re.compile(r"\.?\s*(hide|show) open hours for the week\.?$", re.I)


def pick(root: LexborNode | LexborHTMLParser, chain: css.Chain) -> LexborNode | None:
    """The first node matched by the first selector of ``chain`` that matches anything."""
    for selector in chain:
        node = root.css_first(selector)
        if node is not None:
            return node
    return None


def pick_all(root: LexborNode | LexborHTMLParser, chain: css.Chain) -> list[LexborNode]:
    """Every node matched by the first selector of ``chain`` that matches anything."""
    for selector in chain:
        nodes = root.css(selector)
        if nodes:
            return list(nodes)
    return []


def _attr(node: LexborNode | None, name: str) -> str | None:
    if node is None:
        return None
    return clean(node.attributes.get(name))


def _text(node: LexborNode | None) -> str | None:
    return clean(node.text(deep=True, separator=" ")) if node is not None else None


def _count_from_label(label: str | None) -> int | None:
    """The review count in "4.8 stars 91,790 Reviews" (the second number) or "17,059 reviews"."""
    if not label:
        return None
    numbers = _NUMBERS.findall(label)
    if "star" in label.lower() and len(numbers) >= 2:
        return parse_count(numbers[-1])
    return parse_count(label)


# -- place page ----------------------------------------------------------------------


def _hours(tree: LexborHTMLParser) -> list[str]:
    node = pick(tree, css.HOURS)
    label = _attr(node, "aria-label")
    if label:
        label = _HIDE_HOURS.sub("", label)
        return [part.strip() for part in label.split(";") if part.strip()]
    rows = []
    for row in pick_all(tree, css.HOURS_ROW):
        cells = [_text(cell) for cell in row.css("td")[:2]]
        if all(cells):
            rows.append(f"{cells[0]}, {cells[1]}")
    return rows


def _phone(tree: LexborHTMLParser) -> str | None:
    node = pick(tree, css.PHONE)
    if node is None:
        return None
    item = node.attributes.get("data-item-id") or ""
    number = item.split(":", 2)[2] if item.startswith("phone:tel:") else ""
    return clean(number) or without_label(node.attributes.get("aria-label")) or _text(node)


def parse_place_page(html: str, url: str | None = None) -> PlaceResult:
    """Read a place page's DOM; an empty result (``.empty``) when nothing matched."""
    tree = LexborHTMLParser(html)
    title = pick(tree, css.TITLE)
    name = _text(title)
    if name is None:
        return PlaceResult(maps_url=url)
    category = pick(tree, css.CATEGORY)
    address = pick(tree, css.ADDRESS)
    website = pick(tree, css.WEBSITE)
    plus_code = pick(tree, css.PLUS_CODE)
    box = pick(tree, css.RATING_BOX)
    rating = parse_rating(_text(pick(box, css.RATING_VALUE))) if box is not None else None
    reviews = None
    if box is not None:
        count_node = pick(box, css.REVIEW_COUNT)
        reviews = _count_from_label(_attr(count_node, "aria-label")) or parse_count(_text(count_node))
        if reviews is None:
            # "4.7(20)": the count in brackets after the rating.
            match = re.search(r"\(([\d.,\s\u00a0\u202fKkMm]+)\)", _text(box) or "")
            reviews = parse_count(match.group(1)) if match else None
    return PlaceResult(
        name=name,
        categories=[c for c in [_text(category)] if c],
        address=without_label(_attr(address, "aria-label")) or _text(address),
        phone=_phone(tree),
        website=unwrap_redirect(_attr(website, "href")),
        rating=rating,
        review_count=reviews,
        plus_code=without_label(_attr(plus_code, "aria-label")) or _text(plus_code),
        hours=_hours(tree),
        maps_url=url,
        sponsored=pick(tree, css.SPONSORED_HEADING) is not None,
        strategies=["place_dom"],
    )


# -- results list --------------------------------------------------------------------


def _info_segments(card: LexborNode, skip: set[str]) -> list[list[str]]:
    """The card's "Category · Address" style lines, split at the dots, noise removed."""
    lines = []
    for node in pick_all(card, css.CARD_INFO_LINE):
        if len(node.css("div.W4Efsd")) > 1:
            continue  # only the innermost lines (lexbor's match includes the node itself)
        segments = []
        for raw in re.split(r"[·⋅]", node.text(deep=True, separator=" ")):
            segment = clean(raw)
            if (
                not segment
                or segment in skip
                or _OPENING.search(segment)
                or _PRICE.match(segment)
                or re.match(r"^\d[.,]\d\s*\(", segment)
                or segment.startswith("(")
            ):
                continue
            segments.append(segment)
        if segments:
            lines.append(segments)
    return lines


def parse_card(card: LexborNode) -> PlaceResult:
    """Read one result card (``div[role="article"]``)."""
    link = pick(card, css.CARD_LINK)
    name = _attr(link, "aria-label") or _text(pick(card, css.CARD_NAME))
    rating_node = pick(card, css.CARD_RATING)
    rating = parse_rating(_text(rating_node) or _attr(rating_node, "aria-label"))
    reviews_node = pick(card, css.CARD_REVIEWS)
    reviews = parse_count(_text(reviews_node)) or _count_from_label(_attr(reviews_node, "aria-label"))
    if reviews is None and rating_node is not None:
        reviews = _count_from_label(_attr(rating_node, "aria-label"))
    phone = _text(pick(card, css.CARD_PHONE))
    lines = _info_segments(card, {s for s in (name, phone) if s})
    category = lines[0][0] if lines else None
    address = lines[0][-1] if lines and len(lines[0]) > 1 else None
    card_text = card.text(deep=True, separator=" ")
    return PlaceResult(
        name=name,
        categories=[category] if category else [],
        address=address,
        phone=phone,
        website=unwrap_redirect(_attr(pick(card, css.CARD_WEBSITE), "href")),
        rating=rating,
        review_count=reviews,
        maps_url=_attr(link, "href"),
        sponsored=pick(card, css.CARD_SPONSORED) is not None or "Sponsored" in card_text,
        strategies=["card"],
    )


def _drop_related(tree: LexborHTMLParser) -> None:
    """Remove the sections of other places (carousels of related places) from ``tree``."""
    for selector in css.RELATED:
        # One at a time: a section nested in another is gone with it, never freed twice.
        while (node := tree.css_first(selector)) is not None:
            node.decompose()


def parse_cards(html: str) -> list[PlaceResult]:
    """Every result card in ``html`` (a results page, or just its feed), in order.

    Only the results feed's own cards count when the page has a feed; cards of related
    places (a "People also search for" carousel, inside the feed or beside it) never do.
    """
    tree = LexborHTMLParser(html)
    _drop_related(tree)
    root = pick(tree, css.RESULTS_FEED) or tree
    return [result for result in map(parse_card, pick_all(root, css.CARD)) if not result.empty]


Landing = Literal["feed", "place", "none"]


def is_place_url(url: str | None) -> bool:
    """Whether ``url`` is a single place's page (its path is ``/maps/place/...``)."""
    return bool(url) and "/maps/place/" in urlsplit(url).path


def landing(html: str, url: str | None = None) -> Landing:
    """What a search opened: a results ``feed``, one ``place`` page, or ``none`` of the known layouts.

    A place URL decides at once. Otherwise a results feed wins over a title (a list page
    may carry headings too), and a place title with no results feed is a place page:
    Maps opened the one place the search named.
    """
    if is_place_url(url):
        return "place"
    tree = LexborHTMLParser(html)
    if pick(tree, css.RESULTS_FEED) is not None:
        return "feed"
    if pick(tree, css.TITLE) is not None:
        return "place"
    return "feed" if pick(tree, css.FEED) is not None else "none"


def has_end_marker(html: str) -> bool:
    """Whether the results list says it has no more results."""
    return pick(LexborHTMLParser(html), css.END_OF_LIST) is not None
