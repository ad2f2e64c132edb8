"""The state machines as data: every allowed pair works, every other pair raises."""

from __future__ import annotations

import itertools

import pytest

from outreach.kernel.errors import IllegalTransition
from outreach.kernel.states import (
    EMAIL_MACHINE,
    LEAD_MACHINE,
    EmailState,
    LeadState,
    check_transition,
    review_status,
)

L, E = LeadState, EmailState

# Written out from the design, independently of the table in states.py.
EXPECTED_LEAD = {
    (L.DISCOVERED, L.ANALYZING),
    (L.ANALYZING, L.ANALYZED),
    (L.ANALYZED, L.PENDING_REVIEW),
    (L.PENDING_REVIEW, L.APPROVED),
    (L.PENDING_REVIEW, L.REJECTED),
    (L.PENDING_REVIEW, L.EXPIRED),
    (L.APPROVED, L.READY_FOR_OUTREACH),
    (L.DISCOVERED, L.FAILED),
    (L.ANALYZING, L.FAILED),
    (L.ANALYZED, L.FAILED),
    (L.FAILED, L.DISCOVERED),
    (L.APPROVED, L.PENDING_REVIEW),
    (L.REJECTED, L.PENDING_REVIEW),
    (L.EXPIRED, L.PENDING_REVIEW),
    # Deal stages, moved by a person once the lead answered.
    (L.READY_FOR_OUTREACH, L.INTERESTED),
    (L.READY_FOR_OUTREACH, L.MEETING),
    (L.READY_FOR_OUTREACH, L.WON),
    (L.READY_FOR_OUTREACH, L.LOST),
    (L.INTERESTED, L.MEETING),
    (L.INTERESTED, L.WON),
    (L.INTERESTED, L.LOST),
    (L.MEETING, L.WON),
    (L.MEETING, L.LOST),
    (L.LOST, L.INTERESTED),
}
_CHAIN = [E.SENT, E.DELIVERED, E.OPENED, E.REPLIED, E.CATEGORIZED]
EXPECTED_EMAIL = {
    (E.QUEUED, E.SENDING),
    (E.SENDING, E.SENT),
    (E.SENDING, E.QUEUED),
    (E.SENDING, E.FAILED),
    (E.QUEUED, E.FAILED),
    (E.QUEUED, E.CANCELLED),
    (E.SENT, E.BOUNCED),
    (E.DELIVERED, E.BOUNCED),
    (E.FAILED, E.QUEUED),
} | {(a, b) for i, a in enumerate(_CHAIN) for b in _CHAIN[i + 1 :]}


def test_lead_table_is_exactly_the_design() -> None:
    assert LEAD_MACHINE.allowed == EXPECTED_LEAD


def test_email_table_is_exactly_the_design() -> None:
    assert EMAIL_MACHINE.allowed == EXPECTED_EMAIL


@pytest.mark.parametrize(("machine", "states"), [(LEAD_MACHINE, list(L)), (EMAIL_MACHINE, list(E))])
def test_every_pair_is_allowed_or_raises_naming_both_states(machine, states) -> None:
    for old, new in itertools.product(states, states):
        if (old, new) in machine.allowed:
            check_transition(machine, old, new)
        else:
            with pytest.raises(IllegalTransition) as info:
                check_transition(machine, old, new)
            assert f"'{old}'" in str(info.value)
            assert f"'{new}'" in str(info.value)


def test_unknown_states_raise() -> None:
    with pytest.raises(IllegalTransition):
        check_transition(LEAD_MACHINE, "discovered", "teleported")
    with pytest.raises(IllegalTransition):
        check_transition(EMAIL_MACHINE, "limbo", "sent")


def test_review_status_follows_state() -> None:
    assert review_status("pending_review") == "pending"
    assert review_status("approved") == "approved"
    assert review_status("ready_for_outreach") == "approved"
    assert review_status("rejected") == "rejected"
    assert review_status("discovered") == "none"
