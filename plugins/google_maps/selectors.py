"""Every CSS selector the plugin uses, each with its fallback chain, in one place.

Google renames classes often; aria roles, ``data-item-id`` attributes and URL shapes
change less, so each chain starts with the most stable selector and falls back to
class names seen in 2023 to 2026 captures. When Maps changes, this is the file to edit.
"""

from __future__ import annotations

Chain = tuple[str, ...]

# -- results list --------------------------------------------------------------------

FEED: Chain = ('div[role="feed"]', 'div[aria-label^="Results for"]', "div.m6QErb[aria-label]")
#: The feed selectors only a results list matches: a place page's own panes are
#: ``div.m6QErb`` labelled with the place's name, so the last ``FEED`` fallback matches them too.
RESULTS_FEED: Chain = FEED[:2]
END_OF_LIST: Chain = ("span.HlvSq", "p.fontBodyMedium > span > span.HlvSq")
CARD: Chain = ('div[role="article"]', "div.Nv2PK")
CARD_LINK: Chain = ("a.hfpxzc", 'a[href*="/maps/place/"]')
CARD_NAME: Chain = ("div.qBF1Pd", "div.fontHeadlineSmall", ".NrDZNb span")
CARD_RATING: Chain = ("span.MW4etd", 'span[role="img"][aria-label*="star"]')
CARD_REVIEWS: Chain = ("span.UY7F9", 'span[role="img"][aria-label*="eview"]')
CARD_PHONE: Chain = ("span.UsdlK",)
CARD_WEBSITE: Chain = ('a[data-value="Website"]', 'a[aria-label^="Visit"]', "a.lcr4fd")
#: Lines of "Category · Address" and "Open ⋅ Closes 5 PM · Phone" text inside a card.
CARD_INFO_LINE: Chain = ("div.W4Efsd > div.W4Efsd", "div.W4Efsd")
#: Sections that show other places ("People also search for", related places), on a place page
#: or inside a results feed. Their cards are not results: every selector here counts (a union,
#: not a fallback chain), and cards inside any of them are left out.
RELATED: Chain = (
    '[aria-roledescription="carousel"]',
    "div.fp2VUc",
    '[aria-label^="People also search for"]',
    '[aria-label^="Related places"]',
)
CARD_SPONSORED: Chain = ("span.jHLihd", "div.kpih0e", 'span[aria-label="Sponsored"]')

# -- place page ----------------------------------------------------------------------

#: The title; a bare ``h1`` would also match the "Sponsored · ..." heading (``h1.kpih0e``).
TITLE: Chain = ("h1.DUwDvf", "h1.fontHeadlineLarge", 'div[role="main"] h1:not(.kpih0e)')
SPONSORED_HEADING: Chain = ("h1.kpih0e",)
CATEGORY: Chain = ("button.DkEaL", 'button[jsaction$=".category"]', "span.DkEaL")
ADDRESS: Chain = ('button[data-item-id="address"]', '[data-item-id="address"]')
WEBSITE: Chain = ('a[data-item-id="authority"]', 'a[aria-label^="Website:"]')
PHONE: Chain = ('button[data-item-id^="phone:tel:"]', '[data-item-id^="phone:"]')
PLUS_CODE: Chain = ('button[data-item-id="oloc"]', '[data-item-id="oloc"]')
RATING_BOX: Chain = ("div.F7nice", 'div[jsaction*="pane.rating"]')
RATING_VALUE: Chain = ('span[aria-hidden="true"]', 'span[role="img"][aria-label*="star"]')
REVIEW_COUNT: Chain = (
    'span[role="img"][aria-label$="reviews"]',
    'span[aria-label$="reviews"]',
    'span[aria-label*="review"]',
    'button[jsaction*="reviewChart"] span',
)
#: The week's hours, as one aria-label ("Saturday, 10 am to 1 am; Sunday, ...").
HOURS: Chain = (
    '[data-item-id^="oh"]',
    'div[jsaction^="pane.openhours"] + div[aria-label]',
    "div.t39EBf[aria-label]",
)
HOURS_ROW: Chain = ("table.eK4R0e tr", "table tr.y0skZc")

# -- walls ---------------------------------------------------------------------------

CONSENT_FORM: Chain = ('form[action^="https://consent.google"]', 'form[action*="consent"]')
#: Within the consent form: prefer rejecting the optional cookies.
CONSENT_BUTTON: Chain = (
    'button[aria-label^="Reject all"]',
    'button[aria-label^="Accept all"]',
    'input[type="submit"]',
    "button",
)


def first_match(chain: Chain) -> str:
    """The whole chain as one selector list (the browser takes the first that matches)."""
    return ", ".join(chain)
