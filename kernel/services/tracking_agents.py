"""Telling a person's open or click from a machine's: image proxies, security scanners, previews.

Mail providers fetch images through proxies (Gmail, Yahoo) or all at once on delivery
(Apple Mail Privacy Protection), and corporate gateways follow every link to scan it.
Those requests are recorded but flagged, so opens and clicks count people. A request
is flagged by its user agent, or by its timing: nobody reads a message within
seconds of it being sent, but a scanner at the receiving server does.
"""

from __future__ import annotations

import re
from datetime import datetime

#: Image proxies: they load the pixel for the mailbox, not necessarily when a person reads.
_PROXIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Gmail image proxy", re.compile(r"GoogleImageProxy|ggpht\.com", re.I)),
    ("Yahoo image proxy", re.compile(r"YahooMailProxy", re.I)),
    ("Outlook image proxy", re.compile(r"OutlookImageProxy|ms-office-image", re.I)),
    ("Yandex image proxy", re.compile(r"YandexImageProxy|YaDirectFetcher", re.I)),
    # Apple Mail Privacy Protection preloads every image with a bare "Mozilla/5.0".
    ("Apple Mail Privacy Protection", re.compile(r"^Mozilla/5\.0$")),
)

#: Security scanners, link previewers and scripts.
_SCANNERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "security scanner",
        re.compile(
            r"barracuda|mimecast|proofpoint|symantec|messagelabs|trend\s?micro|ironport|cisco|zscaler"
            r"|forcepoint|fireeye|sophos|forti(net|guard)|safelinks|safe\s?links|checkpoint|check\s?point"
            r"|avanan|abnormal|virustotal|urldefense|scanner",
            re.I,
        ),
    ),
    (
        "link preview",
        re.compile(
            r"slackbot|facebookexternalhit|linkedinbot|twitterbot|whatsapp|telegrambot|discordbot"
            r"|skypeuripreview|microsoft office existence discovery|preview",
            re.I,
        ),
    ),
    (
        "script or crawler",
        re.compile(
            r"bot\b|bot/|crawler|spider|python-requests|python-urllib|aiohttp|httpx|curl/|wget|go-http-client"
            r"|okhttp|java/|libwww|headlesschrome|phantomjs|postman",
            re.I,
        ),
    ),
)


def agent_reason(user_agent: str | None) -> str | None:
    """Why this user agent is not a person reading mail, or None when it may be one."""
    agent = (user_agent or "").strip()
    if not agent:
        return "no user agent"
    for reason, pattern in (*_PROXIES, *_SCANNERS):
        if pattern.search(agent):
            return reason
    return None


def flag_reason(
    user_agent: str | None, sent_at: datetime | None, now: datetime, scanner_seconds: float
) -> str | None:
    """Why an open or click should not count as a person's, or None when it counts."""
    if sent_at is None:
        return "before the email was sent"
    reason = agent_reason(user_agent)
    if reason is not None:
        return reason
    elapsed = (now - sent_at).total_seconds()
    if elapsed < scanner_seconds:
        return f"{max(0.0, elapsed):.0f}s after sending"
    return None
