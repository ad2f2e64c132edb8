"""What a person can do next with a lead, in words: the Leads page shows them where a key or a
button does not apply, so nothing ever silently does nothing."""

from __future__ import annotations

from typing import Any

from outreach.kernel.states import LeadState

L = LeadState


def row_hint(lead: Any) -> str:
    """Why the review keys may not apply to ``lead``, and what does (a clause after "Cannot approve X:")."""
    state = lead.lifecycle_state
    if state == L.DISCOVERED:
        return (
            "it is not analyzed yet, so there is nothing to review. Press n (or Analyze) to analyze it first."
        )
    if state in (L.ANALYZING, L.ANALYZED):
        return "it is being analyzed; it comes up for review when the analysis ends."
    if state == L.PENDING_REVIEW:
        return "it waits for your review: a approves it, r rejects it."
    if state == L.APPROVED:
        if not lead.email:
            return (
                "it is approved but has no email address, so it cannot be made ready for outreach; "
                "u undoes the review."
            )
        return "it is approved: m makes it ready for outreach, u undoes the review."
    if state in (L.REJECTED, L.EXPIRED):
        return f"it is {state}: u undoes the review."
    if state == L.READY_FOR_OUTREACH:
        return "it is ready for outreach: enroll it in a sequence on the Sequences page."
    if state == L.FAILED:
        reason = f" ({lead.failure_reason})" if getattr(lead, "failure_reason", None) else ""
        return f"its analysis failed{reason}. Press n (or Analyze again) to try again."
    return f"it is {str(state).replace('_', ' ')}."


def as_clause(reason: str) -> str:
    """A service's skip reason ("has no email address", "is rejected, not approved") after "it"."""
    return f"it {reason}" if reason.startswith(("is ", "has ")) else reason
