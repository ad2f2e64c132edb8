"""Deciding, before any claim, which due emails may go now and why the others wait.

For each due email, in due order: its mailbox must exist and have a sender; the
recipient's sending window must be open (else the email is deferred to its
opening); the mailbox must be under its daily cap and past its gap; the global rate
limit must allow one more; a follow-up's lead must not have replied, bounced or be
suppressed (else it is cancelled). Then every compliance preparer shapes the
message and every check judges it: a block fails the email, a defer moves it.

The same plan serves the worker and ``outreach send --dry-run``; only the worker
applies it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import msgspec
import structlog
from piccolo.query import Select

from ...compliance import public_url
from ...contracts import ComplianceContext, OutgoingMessage, VerdictAction
from ...models import Email, Lead
from ...protocols import ComplianceCheck, MessagePreparer
from ...states import EmailState
from ...store.engine import read_transaction
from ...store.filters import in_values
from ...store.mapping import email_from_row, lead_from_row
from ...store.tables import EmailRow, LeadRow
from ..followups import STOPPING_STATES, suppressed_hashes
from ..mailboxes import SENT_STATES
from ..slices import breathe
from .messages import outgoing, redact_address
from .policy import cap_for_day, day_start, gap_after, window_opening

if TYPE_CHECKING:
    from ...runtime import Runtime

log = structlog.get_logger("outreach.outbox")


class Decision(msgspec.Struct, kw_only=True):
    """What the plan says about one email.

    ``action``: ``send`` (claim it now), ``wait`` (nothing to write; it stays due),
    ``defer`` (move its due time to ``until``), ``block`` (fail it), ``cancel`` (its
    sequence is over).
    """

    email: Email
    action: str
    reason: str | None = None
    until: datetime | None = None
    message: OutgoingMessage | None = None
    senders: list[str] = []
    check: str | None = None


class Plan(msgspec.Struct, kw_only=True):
    """Every decision of one round, and the pacing to record for mailboxes that send."""

    now: datetime
    decisions: list[Decision] = []
    next_send: dict[str, datetime] = {}
    #: Why nothing more can go now, when a limit stopped the round (rate limit, caps).
    limits: list[str] = []

    def of(self, action: str) -> list[Decision]:
        """The decisions with this action."""
        return [d for d in self.decisions if d.action == action]


async def _allowances(rt: Runtime, now: datetime) -> tuple[dict[str, int], dict[str, str], int | None]:
    """How many emails each mailbox may claim now, why the others may not, and the global room."""
    pacing = await rt.mailboxes.pacing()
    starts = {name: day_start(now, rt.mailboxes.timezone_of(name)) for name in rt.mailboxes.names()}
    sent = await rt.mailboxes.sent_since(starts)
    allowance: dict[str, int] = {}
    why: dict[str, str] = {}
    for mailbox in rt.mailboxes.all_settings():
        row = pacing.get(mailbox.name, {})
        cap = cap_for_day(mailbox, row.get("first_sent_at"), now)
        left = cap - sent[mailbox.name]
        next_at = row.get("next_send_at")
        if left <= 0:
            why[mailbox.name] = (
                f"mailbox '{mailbox.name}' reached today's cap ({sent[mailbox.name]} of {cap})"
            )
            allowance[mailbox.name] = 0
        elif next_at is not None and next_at > now:
            why[mailbox.name] = (
                f"mailbox '{mailbox.name}' waits its gap until {next_at:%Y-%m-%d %H:%M:%S} UTC"
            )
            allowance[mailbox.name] = 0
        elif mailbox.min_gap_seconds:
            allowance[mailbox.name] = 1
            why[mailbox.name] = (
                f"mailbox '{mailbox.name}' sends one email per gap of {mailbox.min_gap_seconds}s"
            )
        else:
            allowance[mailbox.name] = left
            why[mailbox.name] = f"mailbox '{mailbox.name}' reached today's cap ({cap})"
    limit = rt.settings.sending.rate_limit_per_minute
    room = None
    if limit > 0:
        recent = await EmailRow.count().where(
            EmailRow.state.is_in(list(SENT_STATES)) & (EmailRow.claimed_at > now - timedelta(seconds=60))
        )
        room = max(0, limit - recent)
    return allowance, why, room


def due_query(now: datetime, limit: int, mailboxes: list[str] | None) -> Select:
    """The first ``limit`` queued emails due at ``now`` (of these mailboxes), in due order."""
    query = EmailRow.select().where(
        (EmailRow.state == EmailState.QUEUED)
        & (EmailRow.needs_attention.eq(False))
        & ((EmailRow.due_at <= now) | EmailRow.due_at.is_null())
    )
    if mailboxes is not None:
        query = query.where(EmailRow.mailbox.is_in(mailboxes or [""]))
    return query.order_by(EmailRow.due_at).order_by(EmailRow.id).limit(limit)


async def _due(rt: Runtime, now: datetime, limit: int, mailboxes: list[str] | None) -> list[Email]:
    emails = []
    for row in await due_query(now, limit, mailboxes):
        emails.append(email_from_row(row, rt.vault))
        await breathe()
    return emails


async def _leads(rt: Runtime, ids: list[int], *, whole: bool) -> dict[int, Lead | None]:
    """The leads that still exist, by id: whole (decrypted) when a check reads them, else ``None``."""
    if not whole:
        return dict.fromkeys(
            r["id"] for r in await LeadRow.select(LeadRow.id).where(in_values(LeadRow.id, ids))
        )
    rows = await LeadRow.select().where(in_values(LeadRow.id, ids))
    leads: dict[int, Lead | None] = {}
    for row in rows:
        leads[row["id"]] = lead_from_row(row, rt.vault)
        await breathe()
    return leads


def reads_lead(check: ComplianceCheck) -> bool:
    """Whether ``check`` looks at ``context.lead`` (checks say so with ``reads_lead``; unsaid means yes)."""
    return bool(getattr(check, "reads_lead", True))


async def _stopped_leads(lead_ids: list[int]) -> set[int]:
    if not lead_ids:
        return set()
    rows = await EmailRow.select(EmailRow.lead).where(
        in_values(EmailRow.lead, lead_ids) & EmailRow.state.is_in(list(STOPPING_STATES))
    )
    return {r["lead"] for r in rows}


@dataclass
class _Round:
    """What every decision of one planning round shares."""

    now: datetime
    allowance: dict[str, int]
    why: dict[str, str]
    room: int | None
    stopped: set[int]
    #: The keyed hash of each email's recipient, by email id (made once per round).
    hashes: dict[int, str | None]
    suppressed: set[str]
    public_url: str
    dry_run: bool
    checks: list[ComplianceCheck]
    #: The checks that also prepare messages (a Protocol isinstance check is slow: once per round).
    preparers: list[MessagePreparer]


async def _judge(
    rt: Runtime, message: OutgoingMessage, context: ComplianceContext, round_: _Round
) -> tuple[OutgoingMessage, str, str | None, datetime | None, str | None]:
    """Prepare ``message`` and run every check: (message, action, reason, until, check name)."""
    for preparer in round_.preparers:
        message = await preparer.prepare(message, context)
    for check in round_.checks:
        verdict = await check.check(message, context)
        if verdict.action == VerdictAction.BLOCK:
            return message, "block", verdict.reason or f"blocked by {check.name}", None, check.name
        if verdict.action == VerdictAction.DEFER:
            until = verdict.until or (context.now or rt.clock()) + timedelta(minutes=15)
            return message, "defer", verdict.reason or f"deferred by {check.name}", until, check.name
    return message, "send", None, None, None


async def plan(rt: Runtime, *, limit: int, dry_run: bool = False, rng: random.Random | None = None) -> Plan:
    """Decide what to do with up to ``limit`` due emails now (reading in one snapshot)."""
    async with read_transaction():
        return await _plan(rt, limit=limit, dry_run=dry_run, rng=rng)


async def _plan(rt: Runtime, *, limit: int, dry_run: bool, rng: random.Random | None) -> Plan:
    rng = rng or random.Random()
    now = rt.clock()
    result = Plan(now=now)
    allowance, why, room = await _allowances(rt, now)
    if room == 0:
        result.limits.append(
            f"the global rate limit ({rt.settings.sending.rate_limit_per_minute} a minute) is reached"
        )
        return result
    blocked_mailboxes = [name for name, n in allowance.items() if n <= 0]
    result.limits.extend(why[name] for name in blocked_mailboxes)
    # Only mailboxes that can send now, so that emails which must wait never crowd out the rest.
    sendable = [
        name
        for name, n in allowance.items()
        if n > 0 and rt.mailboxes.sender_chain(name)[0] in rt.plugins.senders
    ]
    emails = await _due(rt, now, limit, sendable if not dry_run else None)
    if not emails:
        return result
    checks = list(rt.plugins.compliance_checks)
    # Leads hold personal data: decrypted only when some check will read them.
    leads = await _leads(rt, sorted({e.lead_id for e in emails}), whole=any(map(reads_lead, checks)))
    hashes = {e.id: rt.vault.hash_email(e.to_address) for e in emails}
    round_ = _Round(
        now=now,
        allowance=allowance,
        why=why,
        room=room,
        stopped=await _stopped_leads(sorted({e.lead_id for e in emails if e.step_number > 1})),
        hashes=hashes,
        suppressed=await suppressed_hashes(hashes.values()),
        public_url=_public_url(rt),
        dry_run=dry_run,
        checks=checks,
        preparers=[c for c in checks if isinstance(c, MessagePreparer)],
    )
    sending = 0
    for email in emails:
        if not dry_run and sending >= limit:
            break
        decision = await _decide(rt, email, leads, round_)
        await breathe()
        if decision.action == "send":
            sending += 1
            allowance[email.mailbox or ""] -= 1
            if round_.room is not None:
                round_.room -= 1
            settings = rt.mailboxes.settings_of(email.mailbox or "")
            if settings.min_gap_seconds:
                result.next_send[settings.name] = now + gap_after(settings, rng)
        result.decisions.append(decision)
    return result


async def _decide(rt: Runtime, email: Email, leads: dict[int, Lead | None], round_: _Round) -> Decision:
    name, now, allowance = email.mailbox or "", round_.now, round_.allowance
    if name not in allowance:
        return Decision(email=email, action="wait", reason=f"mailbox '{name}' is not in the config any more")
    chain = rt.mailboxes.sender_chain(name)
    missing = [s for s in chain[:1] if s not in rt.plugins.senders]
    if missing:
        return Decision(email=email, action="wait", reason=f"no plugin provides the sender '{missing[0]}'")
    if email.lead_id not in leads:
        return Decision(email=email, action="cancel", reason="the lead no longer exists")
    suppressed = round_.hashes[email.id] in round_.suppressed
    if suppressed:
        return Decision(email=email, action="cancel", reason="the address is on the suppression list")
    if email.lead_id in round_.stopped:
        return Decision(email=email, action="cancel", reason="the lead replied or an email to it bounced")
    settings = rt.mailboxes.settings_of(name)
    timezone = email.recipient_timezone or rt.mailboxes.timezone_of(name)
    opening = window_opening(now, timezone, settings.window, settings.weekdays_only)
    if opening is not None:
        return Decision(
            email=email,
            action="defer",
            until=opening,
            reason=f"outside the sending window ({settings.window} in {timezone})",
        )
    if allowance[name] <= 0:
        return Decision(email=email, action="wait", reason=round_.why[name])
    if round_.room is not None and round_.room <= 0:
        return Decision(email=email, action="wait", reason="the global rate limit is reached")
    context = ComplianceContext(
        lead=leads[email.lead_id],
        mailbox=name,
        sender=chain[0],
        now=now,
        public_url=round_.public_url,
        recipient_timezone=timezone,
        dry_run=round_.dry_run,
        delivers=bool(getattr(rt.plugins.senders.get(chain[0]), "delivers", True)),
        tracking=settings.tracking,
        suppressed=suppressed,
        extra={"sequence_id": email.sequence_id, "reply_to": settings.reply_to},
    )
    message = outgoing(email, reply_to=settings.reply_to)
    try:
        message, action, reason, until, check = await _judge(rt, message, context, round_)
    except Exception as exc:  # a broken check holds the email back rather than letting it through
        log.exception("compliance_check_failed", email_id=email.id)
        return Decision(
            email=email, action="wait", reason=f"a compliance check failed ({exc!r}); the log has the details"
        )
    return Decision(
        email=email,
        action=action,
        reason=redact_address(reason, email.to_address),
        until=until,
        message=message,
        senders=chain,
        check=check,
    )


def _public_url(rt: Runtime) -> str:
    return public_url(rt.settings)
