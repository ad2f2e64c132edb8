"""The lead and email state machines, written as data.

Each machine is the set of its states and a table of allowed ``(from, to)`` pairs.
:func:`check_transition` is the one place that decides whether a change is legal;
the services in :mod:`outreach.kernel.services.transitions` call it inside the
transaction that applies the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .errors import IllegalTransition


class LeadState(StrEnum):
    """Where a lead is in its life, from discovery through outreach to a deal won or lost."""

    DISCOVERED = "discovered"
    ANALYZING = "analyzing"
    ANALYZED = "analyzed"
    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    READY_FOR_OUTREACH = "ready_for_outreach"
    FAILED = "failed"
    EXPIRED = "expired"
    #: Deal stages: a person moves a lead on once it answered (see :data:`DEAL_STATES`).
    INTERESTED = "interested"
    MEETING = "meeting"
    WON = "won"
    LOST = "lost"


class EmailState(StrEnum):
    """Where one outgoing email is, from the outbox to a categorized reply."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    OPENED = "opened"
    REPLIED = "replied"
    CATEGORIZED = "categorized"
    BOUNCED = "bounced"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class StateMachine:
    """A named set of states and the transitions allowed between them."""

    entity: str
    states: frozenset[str]
    allowed: frozenset[tuple[str, str]]

    def can(self, old: str, new: str) -> bool:
        """Whether going from ``old`` to ``new`` is allowed."""
        return (old, new) in self.allowed

    def targets_of(self, old: str) -> list[str]:
        """Every state reachable from ``old`` in one step."""
        return sorted(new for frm, new in self.allowed if frm == old)

    def sources_of(self, new: str) -> frozenset[str]:
        """Every state from which ``new`` can be reached in one step."""
        return frozenset(old for old, to in self.allowed if to == new)


def _pairs(*groups: tuple[tuple[str, ...], tuple[str, ...]]) -> frozenset[tuple[str, str]]:
    return frozenset((old, new) for olds, news in groups for old in olds for new in news)


L = LeadState
#: The deal stages a person moves a lead through after outreach, in their usual order.
DEAL_STATES = (L.INTERESTED, L.MEETING, L.WON, L.LOST)
#: A lead's deal moves: from outreach (where a lead stays while its sequence runs) to any
#: stage, on through the stages, and a lost lead back to interested when it comes round.
DEAL_PAIRS = _pairs(
    ((L.READY_FOR_OUTREACH,), DEAL_STATES),
    ((L.INTERESTED,), (L.MEETING, L.WON, L.LOST)),
    ((L.MEETING,), (L.WON, L.LOST)),
    ((L.LOST,), (L.INTERESTED,)),
)
LEAD_MACHINE = StateMachine(
    entity="lead",
    states=frozenset(LeadState),
    allowed=_pairs(
        ((L.DISCOVERED,), (L.ANALYZING,)),
        ((L.ANALYZING,), (L.ANALYZED,)),
        ((L.ANALYZED,), (L.PENDING_REVIEW,)),
        ((L.PENDING_REVIEW,), (L.APPROVED, L.REJECTED, L.EXPIRED)),
        ((L.APPROVED,), (L.READY_FOR_OUTREACH,)),
        ((L.DISCOVERED, L.ANALYZING, L.ANALYZED), (L.FAILED,)),
        # A person may retry a failed lead...
        ((L.FAILED,), (L.DISCOVERED,)),
        # ...and undo a review while no email has gone out (the service checks the emails).
        ((L.APPROVED, L.REJECTED, L.EXPIRED), (L.PENDING_REVIEW,)),
    )
    | DEAL_PAIRS,
)

E = EmailState
# The tracking states in the order later evidence proves earlier ones: a reply
# proves delivery, so an email may skip forward along this chain but never back.
_FORWARD_CHAIN = (E.SENT, E.DELIVERED, E.OPENED, E.REPLIED, E.CATEGORIZED)

EMAIL_MACHINE = StateMachine(
    entity="email",
    states=frozenset(EmailState),
    allowed=_pairs(
        ((E.QUEUED,), (E.SENDING, E.CANCELLED)),
        ((E.SENDING,), (E.SENT, E.FAILED, E.QUEUED)),
        ((E.QUEUED,), (E.FAILED,)),
        ((E.SENT, E.DELIVERED), (E.BOUNCED,)),
        ((E.FAILED,), (E.QUEUED,)),
    )
    | frozenset((old, new) for i, old in enumerate(_FORWARD_CHAIN) for new in _FORWARD_CHAIN[i + 1 :]),
)

#: Email states of an email that has left through its sender (a bounce did leave too).
LEFT_STATES = (E.SENT, E.DELIVERED, E.OPENED, E.REPLIED, E.CATEGORIZED, E.BOUNCED)

#: Lead states after which a review may no longer be undone once an email exists.
REVIEW_UNDO_STATES = frozenset({L.APPROVED, L.REJECTED, L.EXPIRED})


def check_transition(machine: StateMachine, old: str, new: str) -> None:
    """Raise :class:`IllegalTransition` unless ``machine`` allows ``old -> new``."""
    if not machine.can(old, new):
        raise IllegalTransition(machine.entity, old, new, machine.targets_of(old))


def deal_moves(state: str) -> list[str]:
    """The deal stages a lead in ``state`` may move to now, in the stages' order."""
    return [stage for stage in DEAL_STATES if LEAD_MACHINE.can(state, stage)]


def review_status(state: str) -> str:
    """The review outcome a lead's state implies: none, pending, approved or rejected.

    Kept as a derived value (not a column) so it can never disagree with the state.
    """
    if state == L.PENDING_REVIEW:
        return "pending"
    if state in (L.APPROVED, L.READY_FOR_OUTREACH, *DEAL_STATES):
        return "approved"
    if state == L.REJECTED:
        return "rejected"
    if state == L.EXPIRED:
        return "expired"
    return "none"
