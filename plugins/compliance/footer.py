"""The legal footer and the unsubscribe headers every message carries.

- ``List-Unsubscribe`` with the https link and a ``mailto:``, and
  ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 2369, RFC 8058): mail
  clients show an unsubscribe button that works in one click;
- a footer (text and HTML) with who sends the email and the sender's postal address
  (CAN-SPAM), and a visible unsubscribe link;
- on the first email of a sequence, the notice of the right to object to direct
  marketing (GDPR Art. 21(4): explicitly, clearly and separately, at the latest at
  the first communication).

None of it goes on a person's answer to someone who wrote to us (:func:`is_answer`).
"""

from __future__ import annotations

import functools
import html

from outreach.kernel import ComplianceContext, OutgoingMessage, PluginContext, Verdict, public_url

from .links import Links, unsubscribe_mailto

#: Headers of one-click unsubscribing.
LIST_UNSUBSCRIBE = "List-Unsubscribe"
LIST_UNSUBSCRIBE_POST = "List-Unsubscribe-Post"
ONE_CLICK = "List-Unsubscribe=One-Click"

#: ``ComplianceContext.extra["kind"]`` of a person's answer to a reply (``Email.kind``).
ANSWER = "answer"

RIGHT_TO_OBJECT = (
    "You have the right to object at any time to the use of your contact details for direct "
    'marketing (GDPR Art. 21). To object, unsubscribe at the link below or reply "unsubscribe", '
    "and you will not hear from us again."
)


def is_answer(context: ComplianceContext) -> bool:
    """Whether the message is a person's answer to a reply, not a cold email."""
    return (context.extra or {}).get("kind") == ANSWER


@functools.lru_cache(maxsize=64)
def _footer_heads(sender: str | None, address: str | None, first: bool) -> tuple[str, str]:
    """The text and HTML footer up to the unsubscribe link (the same for every email of a mailbox)."""
    lines = ["-- "]
    identity = " · ".join(part for part in (sender, address) if part)
    if identity:
        lines.append(identity)
    if first:
        lines += ["", RIGHT_TO_OBJECT]
    lines += ["", ""]
    parts = ['<div class="outreach-footer" style="margin-top:24px;font-size:12px;color:#666">']
    if identity:
        parts.append(f"<p>{html.escape(identity)}</p>")
    if first:
        parts.append(f"<p>{html.escape(RIGHT_TO_OBJECT)}</p>")
    return "\n".join(lines), "".join(parts)


def _footers(sender: str | None, address: str | None, link: str, first: bool) -> tuple[str, str]:
    """The text and HTML footer of one email."""
    text, markup = _footer_heads(sender, address, first)
    return (
        f"{text}Unsubscribe: {link}",
        f'{markup}<p><a href="{html.escape(link, quote=True)}">Unsubscribe</a> from these emails.</p></div>',
    )


class UnsubscribeFooter:
    """Adds the unsubscribe headers and the legal footer; refuses a message that lost them."""

    name = "unsubscribe"
    reads_lead = False

    def __init__(self, context: PluginContext) -> None:
        self._context = context

    async def prepare(self, message: OutgoingMessage, context: ComplianceContext) -> OutgoingMessage:
        """``message`` with the headers and the footer (the right to object on a first email);
        an answer to a reply as it is."""
        if is_answer(context):
            return message
        links = Links(
            self._context, context.public_url or public_url(self._context.settings), message.email_id
        )
        link = links.unsubscribe()
        targets = [f"<{link}>"]
        mailto = unsubscribe_mailto(message.from_address, (context.extra or {}).get("reply_to"))
        if mailto:
            targets.append(f"<{mailto}>")
        legal = self._context.settings.compliance
        sender = (legal.sender_name or "").strip() or None
        address = " ".join((legal.physical_address or "").split()) or None
        first = message.step_number == 1
        return message.with_headers(
            {LIST_UNSUBSCRIBE: ", ".join(targets), LIST_UNSUBSCRIBE_POST: ONE_CLICK}
        ).with_footer(*_footers(sender, address, link, first))

    async def check(self, message: OutgoingMessage, context: ComplianceContext) -> Verdict:
        """Block a message whose unsubscribe header or visible link was taken out after ``prepare``
        (an answer to a reply carries neither)."""
        if is_answer(context):
            return Verdict.allow()
        header = message.headers.get(LIST_UNSUBSCRIBE, "")
        link = header.partition(">")[0].lstrip("<")
        if not link.startswith("https://") and not link.startswith("http://"):
            return Verdict.block("the message has no List-Unsubscribe link")
        if message.headers.get(LIST_UNSUBSCRIBE_POST) != ONE_CLICK:
            return Verdict.block("the message has no List-Unsubscribe-Post header")
        if link not in message.text or (message.html is not None and html.escape(link) not in message.html):
            return Verdict.block("the message has no visible unsubscribe link")
        return Verdict.allow()
