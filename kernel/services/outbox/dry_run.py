"""Why queued emails wait, and what ``outreach send --dry-run`` reports.

:func:`explain` runs the very plan the worker runs (policy, suppression, compliance
checks) without claiming or writing anything, then names the hold of each queued email
that is not due yet. :func:`holds` answers the same question for any queued emails
(the Outbox page, ``outbox list --json``, ``outbox retry``) without running the checks:
an email not due yet waits for what last moved its due time (its stored reason and its
history say what), a due one for its mailbox, the rate limit or the window as they are
now. :func:`waiting_summary` counts the holds of every queued email.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from ...compliance import LEGAL_HOLD
from ...contracts import OutgoingMessage
from ...models import Email
from ...states import EmailState
from ...store.engine import read_transaction
from ...store.filters import in_values
from ...store.tables import AuditRow, EmailRow, EnrollmentRow
from .planner import (
    HOLD_CAP,
    HOLD_COMPLIANCE,
    HOLD_GAP,
    HOLD_LEGAL,
    HOLD_NO_SENDER,
    HOLD_RATE_LIMIT,
    HOLD_STRANDED,
    HOLD_WINDOW,
    WINDOW_REASON,
    Allowances,
    allowances,
    live_send_now,
    plan,
    stranded_reason,
)
from .policy import window_opening

if TYPE_CHECKING:
    from ...runtime import Runtime

#: Holds of emails not due yet, told apart by what last moved their due time.
HOLD_DELAY = "delay"
HOLD_RETRY = "retry"
HOLD_DEFERRED = "deferred"
HOLD_LATER = "later"
#: A due email nothing holds: it goes out at the worker's next round.
HOLD_DUE = "due"
HOLD_ATTENTION = "attention"

#: The waits that are a person's to skip with ``outreach outbox send-now``.
SKIPPABLE = frozenset({HOLD_DELAY, HOLD_RETRY, HOLD_WINDOW, HOLD_GAP})

#: How each hold reads in a count ("2 outside the sending window").
HOLD_LABELS = {
    HOLD_WINDOW: "outside the sending window",
    HOLD_LEGAL: "held back until the settings are complete",
    HOLD_COMPLIANCE: "deferred by a compliance check",
    HOLD_DEFERRED: "deferred (by a compliance check or an out-of-office reply)",
    HOLD_RETRY: "retrying after a temporary error",
    HOLD_DELAY: "waiting for their step's delay",
    HOLD_CAP: "at their mailbox's daily cap",
    HOLD_GAP: "waiting for their mailbox's gap",
    HOLD_RATE_LIMIT: "held by the global rate limit",
    HOLD_STRANDED: "in a mailbox that is not in the config any more",
    HOLD_NO_SENDER: "in a mailbox whose sender no plugin provides",
    HOLD_ATTENTION: "waiting for a person",
    HOLD_DUE: "due now",
    HOLD_LATER: "due later",
    "check_failed": "held by a compliance check that failed",
}

#: Audit actions that set an email's due time: the last one says why it waits.
_DUE_SETTERS = (
    "queued",
    "deferred",
    "send_now",
    "hold_released",
    "transition:sending->queued",
    "transition:failed->queued",
)


class Hold(msgspec.Struct, kw_only=True):
    """What a queued email waits for, until when, and whether ``send-now`` skips it."""

    kind: str
    reason: str
    until: datetime | None = None
    skippable: bool = False


class Queued(msgspec.Struct, kw_only=True):
    """The fields of a queued email its hold depends on (no personal data)."""

    id: int
    mailbox: str | None = None
    due_at: datetime | None = None
    last_error: str | None = None
    needs_attention: bool = False
    recipient_timezone: str | None = None
    version: int = 1


def _hold(kind: str, reason: str, until: datetime | None = None) -> Hold:
    return Hold(kind=kind, reason=reason, until=until, skippable=kind in SKIPPABLE)


def _queued(email: Email | Queued) -> Queued:
    if isinstance(email, Queued):
        return email
    return Queued(
        id=email.id,
        mailbox=email.mailbox,
        due_at=email.due_at,
        last_error=email.last_error,
        needs_attention=email.needs_attention,
        recipient_timezone=email.recipient_timezone,
        version=email.version,
    )


async def _last_due_setters(ids: list[int]) -> dict[int, dict[str, Any]]:
    """The last audit row that set each email's due time: ``{"action", "actor"}`` by email id."""
    last: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        rows = await (
            AuditRow.select(AuditRow.entity, AuditRow.entity_id, AuditRow.action, AuditRow.actor)
            .where(in_values(AuditRow.entity_id, ids[start : start + 500]))
            .order_by(AuditRow.id)
        )
        for row in rows:
            if row["entity"] == "email" and row["action"] in _DUE_SETTERS:
                last[row["entity_id"]] = row
    return last


def _not_due(email: Queued, setter: dict[str, Any] | None) -> Hold:
    """The hold of an email whose due time is still ahead."""
    reason, until = email.last_error or "", email.due_at
    if reason.startswith(WINDOW_REASON):
        return _hold(HOLD_WINDOW, reason, until)
    if reason.startswith(LEGAL_HOLD):
        return _hold(HOLD_LEGAL, reason, until)
    action = (setter or {}).get("action")
    if action == "transition:sending->queued" and reason:
        return _hold(HOLD_RETRY, f"it is tried again after a temporary error ({reason})", until)
    if action == "deferred" and reason:
        return _hold(HOLD_DEFERRED, reason, until)
    if not reason and action in (None, "queued"):
        return _hold(HOLD_DELAY, "its step's delay has not passed", until)
    return _hold(HOLD_LATER, reason or "it is due later", until)


def _due(rt: Runtime, email: Queued, limits: Allowances, marked: bool, now: datetime) -> Hold:
    """The hold of an email that is due: its mailbox, the window, the rate limit, as they are now."""
    name = email.mailbox or ""
    if name not in limits.allowance:
        return _hold(HOLD_STRANDED, stranded_reason(name))
    sender = rt.mailboxes.sender_chain(name)[0]
    if sender not in rt.plugins.senders:
        return _hold(HOLD_NO_SENDER, f"no plugin provides the sender '{sender}'")
    settings = rt.mailboxes.settings_of(name)
    timezone = email.recipient_timezone or rt.mailboxes.timezone_of(name)
    opening = window_opening(now, timezone, settings.window, settings.weekdays_only)
    if opening is not None and not marked:
        return _hold(HOLD_WINDOW, f"{WINDOW_REASON} ({settings.window} in {timezone})", opening)
    if limits.allowance[name] <= 0 and not (marked and limits.left[name] > 0):
        return _hold(limits.kind[name], limits.why[name])
    if limits.room is not None and limits.room <= 0:
        return _hold(HOLD_RATE_LIMIT, "the global rate limit is reached")
    return _hold(HOLD_DUE, "it is due now and goes out at the worker's next round")


async def holds(rt: Runtime, emails: list[Email] | list[Queued]) -> dict[int, Hold]:
    """What each of these queued emails waits for (others are left out), without running the checks."""
    now = rt.clock()
    queued = [_queued(e) for e in emails if not isinstance(e, Email) or e.state == EmailState.QUEUED]
    if not queued:
        return {}
    not_due = [e for e in queued if e.due_at is not None and e.due_at > now]
    due = [e for e in queued if e.due_at is None or e.due_at <= now]
    async with read_transaction():
        # Only an ambiguous stored reason needs the history to tell a retry from a defer.
        ambiguous = [
            e.id for e in not_due if e.last_error and not e.last_error.startswith((WINDOW_REASON, LEGAL_HOLD))
        ]
        setters = await _last_due_setters(ambiguous) if ambiguous else {}
        limits = await allowances(rt, now) if due else None
        marked = await live_send_now({e.id: e.version for e in due}, now) if due else set()
    result: dict[int, Hold] = {}
    configured = set(rt.mailboxes.names())
    for email in not_due:
        if (email.mailbox or "") not in configured:
            # Whatever its due time says, it cannot go before it is moved.
            result[email.id] = _hold(HOLD_STRANDED, stranded_reason(email.mailbox or ""))
        else:
            result[email.id] = _not_due(email, setters.get(email.id))
    for email in due:
        if email.needs_attention:
            result[email.id] = _hold(HOLD_ATTENTION, "it needs a person's attention")
        else:
            assert limits is not None
            result[email.id] = _due(rt, email, limits, email.id in marked, now)
    return result


async def hold_of(rt: Runtime, email: Email) -> Hold | None:
    """What one email waits for (None unless it is queued)."""
    return (await holds(rt, [email])).get(email.id)


class WaitingSummary(msgspec.Struct, kw_only=True):
    """How many queued emails wait, for what, and the earliest time each hold ends."""

    queued: int = 0
    holds: dict[str, int] = {}
    earliest: dict[str, datetime] = {}

    def sentence(self) -> str:
        """``3 queued emails wait: 2 outside the sending window (until ...), 1 ...``."""
        if not self.queued:
            return "no email is queued"
        waiting = self.queued - self.holds.get(HOLD_DUE, 0)
        parts = []
        for kind, count in sorted(self.holds.items(), key=lambda item: -item[1]):
            until = self.earliest.get(kind)
            when = f" (the first until {until:%Y-%m-%d %H:%M} UTC)" if until else ""
            parts.append(f"{count} {HOLD_LABELS.get(kind, kind)}{when}")
        noun = "email" if self.queued == 1 else "emails"
        if waiting == self.queued:
            return f"{self.queued} queued {noun} {'waits' if waiting == 1 else 'wait'}: " + ", ".join(parts)
        return f"{self.queued} queued {noun}: " + ", ".join(parts)


async def waiting_summary(rt: Runtime) -> WaitingSummary:
    """Count every queued email by what it waits for."""
    rows = await EmailRow.select(
        EmailRow.id,
        EmailRow.mailbox,
        EmailRow.due_at,
        EmailRow.last_error,
        EmailRow.needs_attention,
        EmailRow.recipient_timezone,
        EmailRow.version,
    ).where(EmailRow.state == EmailState.QUEUED)
    queued = [
        Queued(**{**row, "needs_attention": bool(row["needs_attention"]), "version": row["version"] or 1})
        for row in rows
    ]
    found = await holds(rt, queued)
    summary = WaitingSummary(queued=len(queued), holds=dict(Counter(h.kind for h in found.values())))
    for hold in found.values():
        if hold.until is not None and (
            hold.kind not in summary.earliest or hold.until < summary.earliest[hold.kind]
        ):
            summary.earliest[hold.kind] = hold.until
    return summary


class DryRunItem(msgspec.Struct, kw_only=True):
    """One queued email and what would happen to it now."""

    email_id: int
    lead_id: int
    step_number: int
    mailbox: str | None
    sender: str | None
    action: str
    reason: str | None = None
    until: datetime | None = None
    #: What holds it back (``window``, ``cap``, ``gap``, ``rate_limit``, ``legal``, ``stranded``...).
    hold: str | None = None
    #: What the checks warn about in the message (spam-filter triggers); it still goes.
    warnings: list[str] = []


class DryRun(msgspec.Struct, kw_only=True):
    """What ``send --dry-run`` reports: what would go out now, and why the rest waits."""

    now: datetime
    items: list[DryRunItem] = []
    limits: list[str] = []
    followups_due: int = 0


def message_warnings(checks: Iterable[Any], message: OutgoingMessage) -> list[str]:
    """Every warning the checks that offer ``warnings(message)`` have about ``message``.

    A warning decides nothing (the check's verdict does): it is what ``send --dry-run``
    and the template editor's preview show beside the message.
    """
    found: list[str] = []
    for check in checks:
        warn = getattr(check, "warnings", None)
        if callable(warn):
            found += [text for text in warn(message) if text not in found]
    return found


async def explain(rt: Runtime, *, limit: int = 500) -> DryRun:
    """Plan without claiming or writing anything, and name the hold of the queued emails not due yet."""
    current = await plan(rt, limit=limit, dry_run=True)
    result = DryRun(now=current.now, limits=current.limits)
    for decision in current.decisions:
        email = decision.email
        result.items.append(
            DryRunItem(
                email_id=email.id,
                lead_id=email.lead_id,
                step_number=email.step_number,
                mailbox=email.mailbox,
                sender=decision.senders[0] if decision.senders else None,
                action=decision.action,
                reason=decision.reason,
                until=decision.until,
                hold=decision.hold,
                warnings=(
                    message_warnings(rt.plugins.compliance_checks, decision.message)
                    if decision.message
                    else []
                ),
            )
        )
    seen = {item.email_id for item in result.items}
    rows = await (
        EmailRow.select(
            EmailRow.id,
            EmailRow.lead,
            EmailRow.step_number,
            EmailRow.mailbox,
            EmailRow.due_at,
            EmailRow.last_error,
            EmailRow.needs_attention,
            EmailRow.recipient_timezone,
            EmailRow.version,
        )
        .where(EmailRow.state == EmailState.QUEUED)
        .order_by(EmailRow.due_at)
        .limit(limit)
    )
    rows = [row for row in rows if row["id"] not in seen]
    found = await holds(
        rt,
        [
            Queued(
                id=row["id"],
                mailbox=row["mailbox"],
                due_at=row["due_at"],
                last_error=row["last_error"],
                needs_attention=bool(row["needs_attention"]),
                recipient_timezone=row["recipient_timezone"],
                version=row["version"] or 1,
            )
            for row in rows
        ],
    )
    for row in rows:
        hold = found[row["id"]]
        result.items.append(
            DryRunItem(
                email_id=row["id"],
                lead_id=row["lead"],
                step_number=row["step_number"],
                mailbox=row["mailbox"],
                sender=None,
                action="wait",
                reason=hold.reason,
                until=hold.until or row["due_at"],
                hold=hold.kind,
            )
        )
    result.followups_due = await EnrollmentRow.count().where(
        (EnrollmentRow.state == "active") & (EnrollmentRow.next_due_at <= current.now)
    )
    return result
