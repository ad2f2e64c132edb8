"""The dashboard's "getting started" checklist: each step from an empty database to a first email.

Every step is read from the data, never stored: it ticks itself off when its work is
done, and the whole list goes away once a real email (one a delivering sender handed
to a server) has gone out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec

from ..compliance import Finding
from ..states import DEAL_STATES, LEFT_STATES, LeadState
from ..store.tables import EmailRow

L = LeadState


class Step(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the checklist: done or not, and where to do it."""

    key: str
    label: str
    done: bool
    href: str
    action: str
    detail: str | None = None


class Checklist(msgspec.Struct, frozen=True, kw_only=True):
    """The steps, in order, and whether the journey is over (a real email went out)."""

    steps: list[Step]
    finished: bool

    @property
    def next_step(self) -> Step | None:
        """The first step not done yet."""
        return next((step for step in self.steps if not step.done), None)


def _at_least(counts: Mapping[str, int], states: Iterable[str]) -> int:
    return sum(counts.get(str(state), 0) for state in states)


def build_checklist(
    *,
    lead_counts: Mapping[str, int],
    sequences: int,
    sending_problems: list[Finding],
    emails_queued: int,
    real_emails_sent: int,
) -> Checklist:
    """The checklist for these figures (a pure function: the dashboard gathers them)."""
    beyond_analysis = (
        L.PENDING_REVIEW,
        L.APPROVED,
        L.REJECTED,
        L.EXPIRED,
        L.READY_FOR_OUTREACH,
        *DEAL_STATES,
    )
    approved_or_later = (L.APPROVED, L.READY_FOR_OUTREACH, *DEAL_STATES)
    first = sending_problems[0] if sending_problems else None
    steps = [
        Step(
            key="leads",
            label="Find leads",
            done=sum(lead_counts.values()) > 0,
            href="/discover",
            action="Discover, or import a CSV on Leads",
        ),
        Step(
            key="analyzed",
            label="Analyze them",
            done=_at_least(lead_counts, beyond_analysis) > 0,
            href="/leads?state=discovered",
            action="Analyze",
        ),
        Step(
            key="approved",
            label="Review and approve",
            done=_at_least(lead_counts, approved_or_later) > 0 or emails_queued > 0,
            href="/leads?state=pending_review",
            action="Review",
        ),
        Step(
            key="ready",
            label="Make approved leads ready for outreach",
            done=lead_counts.get(str(L.READY_FOR_OUTREACH), 0) > 0 or emails_queued > 0,
            href="/leads?state=approved",
            action="Make ready",
        ),
        Step(
            key="sequence",
            label="Write a sequence (the first email and its follow-ups)",
            done=sequences > 0,
            href="/sequences",
            action="Sequences",
        ),
        Step(
            key="sender",
            label="Complete the sender settings",
            done=not sending_problems,
            href=f"/settings#field-{first.key}" if first else "/settings",
            action="Settings",
            detail=first.message if first else None,
        ),
        Step(
            key="sent",
            label="Enroll leads and send the first email",
            done=real_emails_sent > 0,
            href="/sequences" if not emails_queued else "/outbox",
            action="Enroll" if not emails_queued else "Outbox",
        ),
    ]
    return Checklist(steps=steps, finished=real_emails_sent > 0)


async def real_emails_sent(non_delivering: Iterable[str]) -> int:
    """How many emails went out through a sender that delivers mail (not the ``outbox`` file writer)."""
    query = EmailRow.count().where(EmailRow.state.is_in(list(LEFT_STATES)))
    skipped = [name for name in non_delivering]
    if skipped:
        query = query.where(EmailRow.sender_backend.not_in(skipped))
    return await query


async def emails_queued() -> int:
    """How many emails are in the outbox at all (any state)."""
    return await EmailRow.count()


def sending_findings(
    findings: list[Finding], chains: Mapping[str, list[str]], senders: Mapping[str, object]
) -> list[Finding]:
    """What stops real mail: the legal ``findings``, then each mailbox whose sender is missing or
    delivers nothing (``chains``: each mailbox's senders; ``senders``: the installed ones by name)."""
    problems: list[Finding] = []
    for mailbox, chain in chains.items():
        primary = chain[0]
        sender = senders.get(primary)
        if sender is None:
            problems.append(
                Finding(
                    "sender.backend",
                    f"Mailbox '{mailbox}' sends through '{primary}', which no installed plugin provides; "
                    f"choose one of {', '.join(sorted(senders))}.",
                )
            )
        elif not getattr(sender, "delivers", True):
            problems.append(
                Finding(
                    "sender.backend",
                    f"Mailbox '{mailbox}' sends through '{primary}', which writes each email to a file "
                    "and delivers nothing; choose SMTP or Gmail as the sender.",
                )
            )
    return problems + list(findings)
