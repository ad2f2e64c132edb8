"""robots.txt as RFC 9309 reads it: the group of our agent, ``*`` and ``$`` patterns, and the
longest match deciding between Allow and Disallow (an equal match allows)."""

from __future__ import annotations

import pytest

from outreach.plugins.website.fetch import ROBOTS_AGENT, robots_rules

SITE = "https://site.example"

CASES = [
    # RFC 9309 2.2.2: the most specific (longest) match wins, whatever the order of the lines.
    ("User-agent: *\nDisallow: /example/\nAllow: /example/page/\n", "/example/page/a.html", True),
    ("User-agent: *\nDisallow: /example/\nAllow: /example/page/\n", "/example/other.html", False),
    (
        "User-agent: *\nAllow: /example/page/\nDisallow: /example/page/disallowed.gif\n",
        "/example/page/",
        True,
    ),
    (
        "User-agent: *\nAllow: /example/page/\nDisallow: /example/page/disallowed.gif\n",
        "/example/page/disallowed.gif",
        False,
    ),
    # An Allow and a Disallow of the same length: the least restrictive, allow.
    ("User-agent: *\nDisallow: /page\nAllow: /page\n", "/page", True),
    # "*" matches any run of characters, "$" the end of the path.
    ("User-agent: *\nDisallow: /*.gif$\n", "/images/logo.gif", False),
    ("User-agent: *\nDisallow: /*.gif$\n", "/images/logo.gif.html", True),
    ("User-agent: *\nDisallow: /private*/data\n", "/private-area/data/x", False),
    ("User-agent: *\nDisallow: /private*/data\n", "/public/data", True),
    # Our group wins over "*", matched case-insensitively, and only it applies.
    (f"User-agent: *\nDisallow: /\n\nUser-agent: {ROBOTS_AGENT.upper()}\nAllow: /\n", "/contact", True),
    (f"User-agent: *\nAllow: /\n\nUser-agent: {ROBOTS_AGENT}\nDisallow: /team\n", "/team", False),
    # Several agents share one group.
    (f"User-agent: other\nUser-agent: {ROBOTS_AGENT}\nDisallow: /x\n", "/x/y", False),
    # An empty Disallow allows everything; a file of another agent only does not concern us.
    ("User-agent: *\nDisallow:\n", "/anything", True),
    ("User-agent: otherbot\nDisallow: /\n", "/anything", True),
    # Percent-encoded and plain forms of a path are the same path.
    ("User-agent: *\nDisallow: /caf%C3%A9\n", "/café", False),
]


@pytest.mark.parametrize(("robots", "path", "allowed"), CASES)
def test_rfc_9309_matching(robots: str, path: str, allowed: bool) -> None:
    assert robots_rules(robots.encode()).can_fetch(SITE + path, ROBOTS_AGENT) is allowed
