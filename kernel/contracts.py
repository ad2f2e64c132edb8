"""The values that cross the plugin boundary, in and out.

A plugin receives and returns only these Structs (and :class:`~outreach.kernel.models.Lead`),
never a database row, so a plugin keeps working whatever the store looks like.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec


class DiscoveryQuery(msgspec.Struct, kw_only=True):
    """What a discovery source is asked to find.

    ``query`` is the search ("dentists") or, for a file source, the path to read;
    ``location`` is place text ("Austin, TX") or ``"lat,lng"``; ``options`` carries
    source-specific settings (a CSV header mapping, a grid size).
    """

    query: str
    location: str | None = None
    max_results: int | None = None
    #: Language of the results' labels; None means the source's own default (``en`` unless configured).
    language: str | None = None
    options: dict[str, Any] = {}


class DiscoveredBusiness(msgspec.Struct, kw_only=True):
    """One business as a discovery source found it.

    Only ``business_name`` is required. ``metadata`` keeps the raw extracted fields
    and anything source-specific (plus code, hours, sponsored flag, strategy used).
    """

    business_name: str
    category: str | None = None
    categories: list[str] = []
    location: str | None = None
    city: str | None = None
    country_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    phone: str | None = None
    website_url: str | None = None
    email: str | None = None
    contact_name: str | None = None
    maps_url: str | None = None
    place_id: str | None = None
    data_id: str | None = None
    rating: float | None = None
    review_count: int | None = None
    confidence: float | None = None
    metadata: dict[str, Any] = {}


class GeoPlace(msgspec.Struct, kw_only=True):
    """Where a place is, as a geocoder found it.

    ``bbox`` is ``(south, west, north, east)`` in degrees when the geocoder knows the
    place's extent; ``radius_km`` is a rough size when it does not.
    """

    name: str
    latitude: float
    longitude: float
    country_code: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    radius_km: float | None = None
    source: str | None = None


class Enrichment(msgspec.Struct, kw_only=True):
    """What one enricher learned about one lead.

    ``data`` is stored on the lead under the enricher's name; ``lead_fields`` are
    values the enricher proposes for the lead's own columns (``email``, ``phone``,
    ``contact_name``, ``website_url``, ``score``...), applied in enricher order.
    """

    data: dict[str, Any] = {}
    lead_fields: dict[str, Any] = {}
    confidence: float | None = None
    source: str | None = None


class Attachment(msgspec.Struct, frozen=True, kw_only=True):
    """A file sent with a message: its name as the recipient sees it, its MIME type, its bytes."""

    filename: str
    content_type: str = "application/octet-stream"
    data: bytes = b""


class OutgoingMessage(msgspec.Struct, kw_only=True):
    """A fully rendered email, ready for a sender.

    ``message_id`` is generated and stored before the send, so a sender must use it
    as the ``Message-ID`` header; ``headers`` carries extra headers to set verbatim
    (``List-Unsubscribe`` and friends from the compliance checks). ``attachments``
    are files a :class:`~outreach.kernel.protocols.MessagePreparer` added
    (:meth:`with_attachment`); templates carry none.
    """

    email_id: int
    message_id: str
    from_address: str
    to_address: str
    subject: str
    text: str
    html: str | None = None
    headers: dict[str, str] = {}
    in_reply_to: str | None = None
    references: list[str] = []
    thread_id: str | None = None
    mailbox: str | None = None
    lead_id: int | None = None
    step_number: int = 1
    attachments: list[Attachment] = []

    def with_attachment(self, attachment: Attachment) -> OutgoingMessage:
        """A copy with ``attachment`` added after the ones it has."""
        return msgspec.structs.replace(self, attachments=[*self.attachments, attachment])

    def with_headers(self, headers: dict[str, str]) -> OutgoingMessage:
        """A copy with ``headers`` added (replacing any of the same name)."""
        return msgspec.structs.replace(self, headers={**self.headers, **headers})

    def with_footer(self, text: str, html: str | None = None) -> OutgoingMessage:
        """A copy with a footer appended to the text part and, when there is one, the HTML part.

        ``html`` is inserted before ``</body>`` when the HTML has one; without ``html``
        the text footer is escaped into a paragraph.
        """
        new_text = f"{self.text.rstrip()}\n\n{text.strip()}\n"
        new_html = self.html
        if new_html is not None:
            block = html if html is not None else f"<p>{_escape(text.strip())}</p>".replace("\n", "<br>\n")
            at = new_html.lower().rfind("</body>")
            new_html = f"{new_html[:at]}{block}\n{new_html[at:]}" if at >= 0 else f"{new_html}\n{block}\n"
        return msgspec.structs.replace(self, text=new_text, html=new_html)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


class SendReceipt(msgspec.Struct, kw_only=True):
    """What a sender returns after a server accepted a message."""

    message_id: str
    provider_message_id: str | None = None
    provider_thread_id: str | None = None
    accepted_at: datetime | None = None
    detail: str | None = None


class VerdictAction(StrEnum):
    """What a compliance check decided about a message."""

    ALLOW = "allow"
    BLOCK = "block"
    DEFER = "defer"


class Verdict(msgspec.Struct, kw_only=True):
    """A compliance check's answer: allow, block (with a reason) or defer (until when)."""

    action: VerdictAction = VerdictAction.ALLOW
    reason: str | None = None
    until: datetime | None = None
    check: str | None = None

    @classmethod
    def allow(cls) -> Verdict:
        """A verdict that lets the message go."""
        return cls(action=VerdictAction.ALLOW)

    @classmethod
    def block(cls, reason: str) -> Verdict:
        """A verdict that stops the message for good, saying why."""
        return cls(action=VerdictAction.BLOCK, reason=reason)

    @classmethod
    def defer(cls, until: datetime, reason: str) -> Verdict:
        """A verdict that holds the message back until ``until``."""
        return cls(action=VerdictAction.DEFER, until=until, reason=reason)


class ComplianceContext(msgspec.Struct, kw_only=True):
    """What a compliance check may know besides the message itself.

    ``lead`` is the :class:`~outreach.kernel.models.Lead` written to (``None`` when no
    check reads leads; see :class:`~outreach.kernel.protocols.ComplianceCheck`); ``mailbox`` and
    ``sender`` name the identity and the sender that will deliver; ``now`` is the
    time the decision is made for; ``public_url`` is where recipients reach this
    outreach (for unsubscribe links); ``recipient_timezone`` is the recipient's IANA
    timezone when known; ``dry_run`` is true when nothing will be sent (``send --dry-run``);
    ``delivers`` is false for a sender that delivers nothing (the ``outbox`` sender writes
    files); ``tracking`` says whether the mailbox counts opens and clicks; ``suppressed`` is
    whether the recipient was on the suppression list when the planner read it for this
    round (None: not known, ask :meth:`PluginContext.is_suppressed`).
    """

    lead: Any = None
    mailbox: str | None = None
    sender: str | None = None
    now: datetime | None = None
    public_url: str | None = None
    recipient_timezone: str | None = None
    dry_run: bool = False
    delivers: bool = True
    tracking: bool = True
    suppressed: bool | None = None
    extra: dict[str, Any] = {}


class InboundMessage(msgspec.Struct, kw_only=True):
    """A raw message that arrived in a watched mailbox (a reply, an auto-reply, a bounce)."""

    raw: bytes
    source: str
    mailbox: str | None = None
    uid: str | None = None
    received_at: datetime | None = None


class ReplyToClassify(msgspec.Struct, kw_only=True):
    """A reply (or an auto-reply) as the reply classifiers see it.

    ``text`` is what the sender wrote, quoted text removed; ``full_text`` is the whole
    readable body.
    """

    subject: str
    text: str
    full_text: str = ""
    from_address: str | None = None
    auto_reply: bool = False
    auto_subtype: str | None = None
    received_at: datetime | None = None
    #: The country (ISO 3166-1 alpha-2) of the lead who wrote, when the reply is matched to
    #: one: it says how they write dates.
    country_code: str | None = None


class ReplyCategory(msgspec.Struct, kw_only=True):
    """A classifier's answer: one of ``interested``, ``not_interested``, ``out_of_office``,
    ``unsubscribe``, ``wrong_person`` or ``unknown``, with its confidence (0 to 1).

    ``return_date`` (ISO date) is set for out-of-office replies that state one.
    """

    category: str
    confidence: float = 0.5
    return_date: str | None = None
    detail: str | None = None
    classifier: str | None = None
