"""Open and click tracking in HTML emails: an open pixel, and links through the click redirect.

Only the HTML part changes (a text part has no pixel to load, and its links stay as
the person wrote them), and only for mailboxes with ``tracking = true``, never in a
person's answer to a reply. Links that are not web links (``mailto:``, ``tel:``,
anchors) and links to this outreach itself (the unsubscribe link) are left alone.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import msgspec

from outreach.kernel import ComplianceContext, OutgoingMessage, PluginContext, Verdict, public_url

from .footer import is_answer
from .links import Links

#: ``href`` of an ``<a>`` tag: double-quoted, single-quoted or bare.
_HREF = re.compile(
    r"""(?P<head><a\b[^>]*?\bhref\s*=\s*)(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s"'>]+))""",
    re.I | re.S,
)
_BODY_END = re.compile(r"</body\s*>", re.I)


def rewrite_links(markup: str, wrap: Callable[[str], str | None]) -> str:
    """``markup`` with each link's address replaced by ``wrap(address)`` (None keeps it)."""

    def replace(match: re.Match[str]) -> str:
        raw = match.group("dq") if match.group("dq") is not None else match.group("sq") or match.group("bare")
        url = html.unescape(raw or "").strip()
        wrapped = wrap(url)
        if wrapped is None:
            return match.group(0)
        return f'{match.group("head")}"{html.escape(wrapped, quote=True)}"'

    return _HREF.sub(replace, markup)


def add_pixel(markup: str, src: str) -> str:
    """``markup`` with a 1x1 image loading ``src``, at the end of the body."""
    image = (
        f'<img src="{html.escape(src, quote=True)}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0">'
    )
    ends = list(_BODY_END.finditer(markup))
    if not ends:
        return f"{markup}\n{image}\n"
    at = ends[-1].start()
    return f"{markup[:at]}{image}\n{markup[at:]}"


class TrackingLinks:
    """Adds the open pixel and wraps web links, in the HTML of mailboxes that track."""

    name = "tracking"
    reads_lead = False

    def __init__(self, context: PluginContext) -> None:
        self._context = context

    async def prepare(self, message: OutgoingMessage, context: ComplianceContext) -> OutgoingMessage:
        """The message with its HTML tracked, or unchanged (text only, or tracking off)."""
        if message.html is None or not context.tracking or is_answer(context):
            return message
        links = Links(
            self._context, context.public_url or public_url(self._context.settings), message.email_id
        )

        def wrap(url: str) -> str | None:
            if not url.lower().startswith(("http://", "https://")) or links.is_ours(url):
                return None
            return links.click(url)

        markup = add_pixel(rewrite_links(message.html, wrap), links.pixel())
        return msgspec.structs.replace(message, html=markup)

    async def check(self, message: OutgoingMessage, context: ComplianceContext) -> Verdict:
        """Tracking never holds a message back."""
        return Verdict.allow()
