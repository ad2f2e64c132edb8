"""The objects plugins register, as typed Protocols.

A plugin implements one of these and hands an instance to the matching
``register_*`` hook (see :mod:`outreach.kernel.hookspecs`). Every object carries a
``name``, unique among objects of its kind: it is what the config selects and what
``outreach plugins`` shows. Every method that does I/O is async.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
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
    """Finds businesses: a map search, a file import, a directory."""

    name: str

    def discover(self, query: DiscoveryQuery, progress: Progress) -> AsyncIterator[DiscoveredBusiness]:
        """Yield each business found for ``query``, reporting progress as it goes.

        Raise :class:`~outreach.kernel.errors.DiscoveryError` with a sentence a
        person can act on when the search cannot run at all.
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

        Raise :class:`~outreach.kernel.errors.TransientSendError` when trying again
        later may work, :class:`~outreach.kernel.errors.PermanentSendError` when it
        never will.
        """
        ...


@runtime_checkable
class ReconcilingSender(Sender, Protocol):
    """A sender that can tell whether a message was already accepted.

    After a crash, emails left in ``sending`` are settled with :meth:`lookup`
    instead of being sent again.
    """

    async def lookup(self, message_id: str) -> SendReceipt | None:
        """Return the receipt of the message with this ``Message-ID``, or None if unknown."""
        ...


@runtime_checkable
class ComplianceCheck(Protocol):
    """Decides whether a message may go out now (suppression, caps, legal footers)."""

    name: str

    async def check(self, message: OutgoingMessage, context: ComplianceContext) -> Verdict:
        """Return allow, block with a reason, or defer until a time."""
        ...


@runtime_checkable
class ReplySource(Protocol):
    """Reads inbound mail (replies, auto-replies, bounces) from a mailbox.

    A source may also offer ``async def wait(self, max_wait: float) -> None``, which
    returns when new mail may have arrived (IMAP IDLE) or after ``max_wait`` seconds;
    the poller uses it between calls to :meth:`fetch` when it is there.
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
