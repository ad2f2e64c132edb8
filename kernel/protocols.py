"""The objects plugins register, as typed Protocols.

A plugin implements one of these and hands an instance to the matching
``register_*`` hook (see :mod:`outreach.kernel.hookspecs`). Every object carries a
``name``, unique among objects of its kind: it is what the config selects and what
``outreach plugins`` shows. Every method that does I/O is async.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol, runtime_checkable

from .contracts import (
    ComplianceContext,
    DiscoveredBusiness,
    DiscoveryQuery,
    Enrichment,
    GeoPlace,
    InboundMessage,
    OutgoingMessage,
    ReplyCategory,
    ReplyToClassify,
    SendReceipt,
    Verdict,
)
from .models import Lead


class Progress(Protocol):
    """How long-running plugin work reports progress to the job that runs it."""

    def set_total(self, total: int | None) -> None:
        """Say how many units of work there are, when known."""

    def advance(self, n: int = 1) -> None:
        """Count ``n`` units as done."""

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to a named counter (``found``, ``details``, ``misses``...)."""

    def report(self, message: str, *, line: int | None = None, **fields: Any) -> None:
        """Record a problem a person should see (a bad CSV row, a skipped page)."""

    @property
    def cancelled(self) -> bool:
        """Whether a person asked the job to stop; check it between units of work."""
        ...


@runtime_checkable
class DiscoverySource(Protocol):
    """Finds businesses: a map search, a file import, a directory.

    A source may also define ``label`` (the name the Discover page shows) and
    ``readiness() -> str | None``: a sentence saying what stops a search before it
    starts (no browser, no API key) and how to fix it, shown on the Discover page.
    """

    name: str

    def discover(self, query: DiscoveryQuery, progress: Progress) -> AsyncIterator[DiscoveredBusiness]:
        """Yield each business found for ``query``, reporting progress as it goes.

        Raise :class:`~outreach.kernel.errors.DiscoveryError` with a sentence a
        person can act on when the search cannot run at all.
        """
        ...


@runtime_checkable
class SplittableSource(DiscoverySource, Protocol):
    """A discovery source whose search divides into units that several workers search at once.

    A search of one unit runs as :meth:`DiscoverySource.discover` does. For more, the
    job stores the units; the worker running the job and every idle worker each call
    :meth:`discover_units` with the units they claim, and what they yield goes through
    the same de-duplication as one search (a place two units list is one lead).
    """

    async def plan(self, query: DiscoveryQuery) -> list[dict[str, Any]]:
        """The units ``query`` divides into (JSON-able dicts, a map grid's cells); fewer than
        two mean one search by :meth:`DiscoverySource.discover`.

        Raise :class:`~outreach.kernel.errors.DiscoveryError` as ``discover`` does.
        """
        ...

    def discover_units(
        self, query: DiscoveryQuery, units: AsyncIterator[dict[str, Any]], progress: Progress
    ) -> AsyncIterator[DiscoveredBusiness]:
        """Yield each business found in the units this process claims, taking them in turn from ``units``.

        Take the next unit only when everything of the one before was yielded: taking it
        records the one before as done. ``progress`` counts for the unit in hand (its
        ``set_total`` is that unit's number of results); stop when it is ``cancelled``.
        ``query.max_results`` is this process's limit; the job stops handing out units
        once all workers together stored that many.
        """
        ...


@runtime_checkable
class Geocoder(Protocol):
    """Turns place text ("Austin, TX") into coordinates: a gazetteer, a geocoding service."""

    name: str
    #: Geocoders are asked in ascending ``order`` until one knows the place.
    order: int

    async def geocode(self, text: str, *, language: str = "en") -> GeoPlace | None:
        """Return where ``text`` is, or None when this geocoder does not know it.

        Raise :class:`~outreach.kernel.errors.DiscoveryError` only when the geocoder
        itself cannot work (a service that cannot be reached); the next one is tried.
        """
        ...


@runtime_checkable
class Enricher(Protocol):
    """Learns more about a lead (its website, its email address)."""

    name: str
    #: Enrichers run in ascending ``order``; ties keep registration order.
    order: int

    async def enrich(self, lead: Lead) -> Enrichment:
        """Return what this enricher learned about ``lead``.

        ``lead`` already carries the output of every enricher that ran before.
        """
        ...


@runtime_checkable
class Sender(Protocol):
    """Delivers a rendered message (SMTP, the Gmail API, a folder of files)."""

    name: str

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        """Hand ``message`` to a server and return its receipt.

        Use ``message.message_id`` as the ``Message-ID`` (``mime_bytes`` does). Raise
        :class:`~outreach.kernel.errors.SenderUnavailable` when the server could not be
        reached or refused the login (a failover sender is tried),
        :class:`~outreach.kernel.errors.TransientSendError` when trying again later may
        work, :class:`~outreach.kernel.errors.PermanentSendError` when it never will, and
        :class:`~outreach.kernel.errors.UncertainSendError` when the connection broke
        after the message was handed over (it is then never sent again blindly).
        A sender that keeps connections open may have an ``async def aclose()``; it is
        called when outreach stops. A sender that delivers nothing to anyone (it writes
        files, as the ``outbox`` sender does) sets ``delivers = False``: the compliance
        checks then let it work before the legal footer is configured.
        """
        ...


@runtime_checkable
class HandoverSender(Sender, Protocol):
    """A sender that says when it is about to hand the message over.

    Before anything that could make a server accept a message, the outbox worker
    writes down that the email is being handed over (after a crash, an email never
    marked so is queued again: it was never with a server). With a plain
    :class:`Sender` that happens just before :meth:`send`; a sender with
    :meth:`send_when_ready` calls ``ready()`` itself, after the steps that cannot make
    the server accept the message (for SMTP: the connection, MAIL FROM and RCPT TO,
    before DATA), so that a crash during those is known to have sent nothing.
    """

    async def send_when_ready(self, message: OutgoingMessage, ready: Callable[[], None]) -> SendReceipt:
        """Like :meth:`Sender.send`, calling ``ready()`` once before the message can be accepted.

        ``ready()`` is quick (it does not wait on anything). If it raises, the message
        must not be handed over: leave the server holding nothing of it (reset or close
        the connection) and let the error through.
        """
        ...


@runtime_checkable
class ReconcilingSender(Sender, Protocol):
    """A sender that can tell whether a message was already accepted.

    After a crash, emails left in ``sending`` are settled with :meth:`lookup`
    instead of being sent again.
    """

    async def lookup(self, message_id: str, mailbox: str | None = None) -> SendReceipt | None:
        """Return the receipt of the message with this ``Message-ID``, or None if it was not sent.

        ``mailbox`` names the mailbox it was sent from (senders with one account per
        mailbox search that account). None must mean "certainly not accepted": it is
        sent again. Raise :class:`~outreach.kernel.errors.LookupUnsupported` when this
        mailbox cannot be searched (a person then decides), and any other error when
        the search cannot run now (it is tried again later).
        """
        ...


@runtime_checkable
class ComplianceCheck(Protocol):
    """Decides whether a message may go out now (suppression, caps, legal footers).

    A check that never reads ``context.lead`` may say so with a class attribute
    ``reads_lead = False``. When no check reads it, the planner does not load and
    decrypt the leads of a batch, and ``context.lead`` is ``None``. Without the
    attribute a check is given the lead.

    A check may also offer ``warnings(message: OutgoingMessage) -> list[str]``: sentences
    about what in the message may hurt it (spam-filter triggers) without deciding
    anything. ``send --dry-run`` and the template editor's preview show them.
    """

    name: str

    async def check(self, message: OutgoingMessage, context: ComplianceContext) -> Verdict:
        """Return allow, block with a reason, or defer until a time.

        Called before the message is claimed for sending, with the message as every
        :class:`MessagePreparer` left it. A block fails the email with the reason; a
        defer moves its due time to ``until``. It must have no side effects: ``send
        --dry-run`` calls it to explain what would happen.
        """
        ...


@runtime_checkable
class MessagePreparer(ComplianceCheck, Protocol):
    """A compliance check that also changes every message before it is sent.

    ``prepare`` runs on every message before any check, in registration order, each
    preparer receiving what the previous one returned: this is where unsubscribe
    headers (``List-Unsubscribe``, ``List-Unsubscribe-Post``) and a legal footer
    (text and HTML) are added, with :meth:`OutgoingMessage.with_headers` and
    :meth:`OutgoingMessage.with_footer`. It must not change ``message_id``, the
    addresses or the threading fields, and must have no side effects: ``send
    --dry-run`` calls it too.
    """

    async def prepare(self, message: OutgoingMessage, context: ComplianceContext) -> OutgoingMessage:
        """Return ``message`` with this plugin's headers and footer added."""
        ...


@runtime_checkable
class ReplySource(Protocol):
    """Reads inbound mail (replies, auto-replies, bounces) from a mailbox.

    A source may also offer ``async def wait(self, max_wait: float) -> None``, which
    returns when new mail may have arrived (IMAP IDLE) or after ``max_wait`` seconds;
    the poller uses it between calls to :meth:`fetch` when it is there. A source that
    keeps connections open may have an ``async def aclose()``, called when outreach stops.
    """

    name: str

    def fetch(self) -> AsyncIterator[InboundMessage]:
        """Yield messages not yet seen; remember what was yielded for next time."""
        ...


@runtime_checkable
class ReplyClassifier(Protocol):
    """Sorts replies into categories (interested, not interested, out of office...)."""

    name: str

    async def classify(self, reply: ReplyToClassify) -> ReplyCategory | None:
        """Return a category with a confidence, or None to abstain.

        Every registered classifier is asked; the most confident answer wins.
        """
        ...
