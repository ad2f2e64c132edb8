"""What spam filters punish in a message's content: one list of each, kept short.

:func:`content_findings` is a pure function of the message, so the check, the dry run
and the tests agree.
"""

from __future__ import annotations

import re

from outreach.kernel import OutgoingMessage

#: Link shorteners: filters distrust links whose destination they cannot see.
SHORTENERS = frozenset(
    {
        "bit.ly",
        "tinyurl.com",
        "t.co",
        "goo.gl",
        "ow.ly",
        "is.gd",
        "buff.ly",
        "rebrand.ly",
        "cutt.ly",
        "shorturl.at",
        "tiny.cc",
        "rb.gy",
    }
)

#: Phrases spam filters weigh most (SpamAssassin-style rules), lower case.
SPAM_PHRASES: tuple[str, ...] = (
    "100% free",
    "act now",
    "risk-free",
    "risk free",
    "click here",
    "guaranteed",
    "winner",
    "no obligation",
    "limited time offer",
    "cash bonus",
    "earn money",
    "buy now",
)

#: The kinds of finding, each a name a user may list in ``[plugins.reputation] block``.
KINDS = ("shortener", "attachment", "no_text", "caps_subject", "phrase")

_URL = re.compile(r"""https?://([^/\s"'<>?#:]+)""", re.I)
#: A subject needs this many letters before "all capitals" means shouting, not an acronym.
CAPS_MIN_LETTERS = 6


def _shorteners(message: OutgoingMessage) -> list[str]:
    found = []
    for host in _URL.findall(f"{message.text}\n{message.html or ''}"):
        host = host.lower().removeprefix("www.")
        if any(host == s or host.endswith("." + s) for s in SHORTENERS) and host not in found:
            found.append(host)
    return found


def content_findings(message: OutgoingMessage) -> list[tuple[str, str]]:
    """What in ``message`` spam filters punish: (kind, sentence) pairs, kinds from :data:`KINDS`."""
    findings = []
    for host in _shorteners(message):
        findings.append(("shortener", f"a link through the shortener {host}: link to the real address"))
    if message.attachments and message.step_number == 1:
        # A stranger's first message with a file is what malware looks like to a filter;
        # a follow-up in a thread the recipient answered is judged less harshly.
        names = ", ".join(a.filename for a in message.attachments)
        findings.append(("attachment", f"an attachment on a first email ({names}): link to the file instead"))
    if not message.text.strip():
        findings.append(("no_text", "no text part: filters distrust HTML-only mail"))
    letters = [c for c in message.subject if c.isalpha()]
    if len(letters) >= CAPS_MIN_LETTERS and all(c.isupper() for c in letters):
        findings.append(("caps_subject", "a subject in capitals"))
    haystack = f"{message.subject}\n{message.text}".lower()
    for phrase in SPAM_PHRASES:
        if phrase in haystack:
            findings.append(("phrase", f'the phrase "{phrase}", which spam filters punish'))
    return findings
