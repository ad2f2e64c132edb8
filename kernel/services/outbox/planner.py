"""Deciding, before any claim, which due emails may go now and why the others wait.

For each due email, in due order: its mailbox must exist and have a sender; the
recipient's sending window must be open (else the email is deferred to its
opening); the mailbox must be under its daily cap and past its gap; the global rate
limit must allow one more; a follow-up's lead must not have replied, bounced or be
suppressed (else it is cancelled). Then every compliance preparer shapes the
message and every check judges it: a block fails the email, a defer moves it.

An email a person asked to send now (``outreach outbox send-now``) skips the sending
window and its mailbox's gap once, never a cap, the rate limit or a check: the mark is
the ``send_now`` audit row of that version of the email (see :func:`live_send_now`).

A person's answer to a reply (``Email.kind == "answer"``) skips the sending window
and is never cancelled because the lead replied; caps, the gap, the rate limit, the
suppression list and every check still apply (the compliance checks see
``extra["kind"]`` and leave the cold-email footer off).

The same plan serves the worker and ``outreach send --dry-run``; only the worker
applies it. Each decision that holds an email back names its hold (``Decision.hold``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import msgspec
import structlog
from piccolo.query import Select

from ...compliance import LEGAL_HOLD, public_url
from ...contracts import ComplianceContext, OutgoingMessage, VerdictAction
from ...models import ANSWER_EMAIL, Email, Lead
from ...protocols import ComplianceCheck, MessagePreparer
from ...states import EmailState
from ...store.engine import read_transaction
from ...store.filters import in_values
from ...store.mapping import email_from_row, lead_from_row
from ...store.tables import AuditRow, EmailRow, LeadRow
from ..followups import STOPPING_STATES, suppressed_hashes
from ..mailboxes import SENT_STATES
from ..slices import breathe
from .messages import outgoing, redact_address
from .policy import cap_for_day, day_start, gap_after, window_opening

if TYPE_CHECKING:
    from ...runtime import Runtime

log = structlog.get_logger("outreach.outbox")

#: The audit action of a person's "send now": the mark that lets one email skip the window and gap.
SEND_NOW = "send_now"
#: How the reason of an email deferred to its window's opening begins.
WINDOW_REASON = "outside the sending window"
#: How many due emails of a mailbox in its gap are looked through for a "send now" mark.
_MARK_SCAN = 1000

#: The kinds of hold a decision names (``Decision.hold``), for reports and scripts.
HOLD_STRANDED = "stranded"
HOLD_NO_SENDER = "no_sender"
HOLD_WINDOW = "window"
HOLD_CAP = "cap"
HOLD_GAP = "gap"
HOLD_RATE_LIMIT = "rate_limit"
HOLD_LEGAL = "legal"
HOLD_COMPLIANCE = "compliance"
HOLD_CHECK_FAILED = "check_failed"


def stranded_reason(mailbox: str) -> str:
    """Why an email of a mailbox that is no longer configured waits."""
    return f"mailbox '{mailbox}' is not in the config any more"


def compliance_hold(reason: str | None) -> str:
    """The hold kind of a compliance check's defer: the law's settings, or another check."""
    return HOLD_LEGAL if (reason or "").startswith(LEGAL_HOLD) else HOLD_COMPLIANCE


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
    #: What holds the email back (``window``, ``cap``, ``gap``, ``rate_limit``, ``stranded``...).
    hold: str | None = None


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


@dataclass
class Allowances:
    """How much each mailbox may send now, why the others may not, and the global room."""

    #: Emails each mailbox may claim this round (one per round while it keeps a gap).
    allowance: dict[str, int]
    #: Room left under each mailbox's cap today.
    left: dict[str, int]
    #: Why a mailbox sends no more this round.
    why: dict[str, str]
    #: The hold kind of ``why``: ``cap`` or ``gap``.
    kind: dict[str, str]
    #: Emails the global rate limit allows this minute (None: no limit).
    room: int | None


async def allowances(rt: Runtime, now: datetime) -> Allowances:
    """How many emails each mailbox may claim now, why the others may not, and the global room."""
    pacing = await rt.mailboxes.pacing()
    starts = {name: day_start(now, rt.mailboxes.timezone_of(name)) for name in rt.mailboxes.names()}
    sent = await rt.mailboxes.sent_since(starts)
    result = Allowances(allowance={}, left={}, why={}, kind={}, room=None)
    for mailbox in rt.mailboxes.all_settings():
        name = mailbox.name
        row = pacing.get(name, {})
        cap = cap_for_day(mailbox, row.get("first_sent_at"), now)
        left = cap - sent[name]
        next_at = row.get("next_send_at")
        result.left[name] = max(0, left)
        if left <= 0:
            result.why[name] = f"mailbox '{name}' reached today's cap ({sent[name]} of {cap})"
            result.kind[name], result.allowance[name] = HOLD_CAP, 0
        elif next_at is not None and next_at > now:
            result.why[name] = f"mailbox '{name}' waits its gap until {next_at:%Y-%m-%d %H:%M:%S} UTC"
            result.kind[name], result.allowance[name] = HOLD_GAP, 0
        elif mailbox.min_gap_seconds:
            result.why[name] = f"mailbox '{name}' sends one email per gap of {mailbox.min_gap_seconds}s"
            result.kind[name], result.allowance[name] = HOLD_GAP, 1
        else:
            result.why[name] = f"mailbox '{name}' reached today's cap ({cap})"
            result.kind[name], result.allowance[name] = HOLD_CAP, left
    limit = rt.settings.sending.rate_limit_per_minute
    if limit > 0:
        recent = await EmailRow.count().where(
            EmailRow.state.is_in(list(SENT_STATES)) & (EmailRow.claimed_at > now - timedelta(seconds=60))
        )
        result.room = max(0, limit - recent)
    return result


async def live_send_now(versions: dict[int, int], now: datetime) -> set[int]:
    """Which of these emails (id -> current version) carry a live "send now" mark.

    A mark is the ``send_now`` audit row a person's action wrote with the version it
    left the email at: any later change (a claim, a check's defer, a retry) bumps the
    version and so uses the mark up, and it lapses at its ``until``.
    """
    if not versions:
        return set()
    # Only the entity_id index narrows this; the entity is checked here rather than in SQL,
    # where SQLite might pick the far less selective index on it.
    rows = await AuditRow.select(AuditRow.entity, AuditRow.entity_id, AuditRow.new_value).where(
        in_values(AuditRow.entity_id, list(versions)) & (AuditRow.action == SEND_NOW)
    )
    live = set()
    for row in rows:
        mark = row["new_value"]
        mark = msgspec.json.decode(mark) if isinstance(mark, str | bytes) else (mark or {})
        if row["entity"] != "email" or mark.get("version") != versions.get(row["entity_id"]):
            continue
        until = mark.get("until")
        if until is None or datetime.fromisoformat(until) > now:
            live.add(row["entity_id"])
    return live


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
    limits: Allowances
    stopped: set[int]
    #: The keyed hash of each email's recipient, by email id (made once per round).
    hashes: dict[int, str | None]
    suppressed: set[str]
    public_url: str
    dry_run: bool
    checks: list[ComplianceCheck]
    #: The checks that also prepare messages (a Protocol isinstance check is slow: once per round).
    preparers: list[MessagePreparer]
    #: The round's emails, by id: the ones a "send now" mark is looked up for.
    emails: dict[int, Email]
    #: Emails with a live "send now" mark; looked up the first time a window or gap would hold one.
    marked: set[int] | None = None

    async def send_now(self, email: Email) -> bool:
        """Whether a person asked to send ``email`` now (one query per round, and only if needed)."""
        if self.marked is None:
            self.marked = await live_send_now({e.id: e.version for e in self.emails.values()}, self.now)
        return email.id in self.marked


async def _marked_in_gap(rt: Runtime, now: datetime, mailboxes: list[str]) -> list[Email]:
    """Due emails of mailboxes waiting out their gap that a person asked to send now."""
    if not mailboxes:
        return []
    rows = await (
        EmailRow.select(EmailRow.id, EmailRow.version)
        .where(
            (EmailRow.state == EmailState.QUEUED)
            & (EmailRow.needs_attention.eq(False))
            & ((EmailRow.due_at <= now) | EmailRow.due_at.is_null())
            & EmailRow.mailbox.is_in(mailboxes)
        )
        .limit(_MARK_SCAN)
    )
    marked = await live_send_now({r["id"]: r["version"] for r in rows}, now)
    if not marked:
        return []
    rows = await EmailRow.select().where(in_values(EmailRow.id, sorted(marked)))
    return [email_from_row(row, rt.vault) for row in rows]


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
    limits = await allowances(rt, now)
    if limits.room == 0:
        result.limits.append(
            f"the global rate limit ({rt.settings.sending.rate_limit_per_minute} a minute) is reached"
        )
        return result
    blocked_mailboxes = [name for name, n in limits.allowance.items() if n <= 0]
    result.limits.extend(limits.why[name] for name in blocked_mailboxes)
    has_sender = {name: rt.mailboxes.sender_chain(name)[0] in rt.plugins.senders for name in limits.allowance}
    # Only mailboxes that can send now, so that emails which must wait never crowd out the rest.
    sendable = [name for name, n in limits.allowance.items() if n > 0 and has_sender[name]]
    emails = await _due(rt, now, limit, sendable if not dry_run else None)
    marked: list[Email] = []
    if not dry_run:
        # A mailbox in its gap is left out above; an email a person asked to send now may still go.
        in_gap = [
            name
            for name in blocked_mailboxes
            if limits.kind[name] == HOLD_GAP and limits.left[name] > 0 and has_sender[name]
        ]
        marked = await _marked_in_gap(rt, now, in_gap)
        emails = marked + emails
    if not emails:
        return result
    checks = list(rt.plugins.compliance_checks)
    # Leads hold personal data: decrypted only when some check will read them.
    leads = await _leads(rt, sorted({e.lead_id for e in emails}), whole=any(map(reads_lead, checks)))
    hashes = {e.id: rt.vault.hash_email(e.to_address) for e in emails}
    round_ = _Round(
        now=now,
        limits=limits,
        stopped=await _stopped_leads(sorted({e.lead_id for e in emails if e.step_number > 1})),
        hashes=hashes,
        suppressed=await suppressed_hashes(hashes.values()),
        public_url=_public_url(rt),
        dry_run=dry_run,
        checks=checks,
        preparers=[c for c in checks if isinstance(c, MessagePreparer)],
        emails={e.id: e for e in emails},
    )
    if marked:
        round_.marked = {e.id for e in marked}
    sending = 0
    for email in emails:
        if not dry_run and sending >= limit:
            break
        decision = await _decide(rt, email, leads, round_)
        await breathe()
        if decision.action == "send":
            sending += 1
            limits.allowance[email.mailbox or ""] -= 1
            limits.left[email.mailbox or ""] -= 1
            if limits.room is not None:
                limits.room -= 1
            settings = rt.mailboxes.settings_of(email.mailbox or "")
            if settings.min_gap_seconds:
                result.next_send[settings.name] = now + gap_after(settings, rng)
        result.decisions.append(decision)
    return result


def _wait(email: Email, hold: str, reason: str) -> Decision:
    return Decision(email=email, action="wait", reason=reason, hold=hold)


async def _decide(rt: Runtime, email: Email, leads: dict[int, Lead | None], round_: _Round) -> Decision:
    name, now, limits = email.mailbox or "", round_.now, round_.limits
    if name not in limits.allowance:
        return _wait(email, HOLD_STRANDED, stranded_reason(name))
    chain = rt.mailboxes.sender_chain(name)
    missing = [s for s in chain[:1] if s not in rt.plugins.senders]
    if missing:
        return _wait(email, HOLD_NO_SENDER, f"no plugin provides the sender '{missing[0]}'")
    if email.lead_id not in leads:
        return Decision(email=email, action="cancel", reason="the lead no longer exists")
    suppressed = round_.hashes[email.id] in round_.suppressed
    if suppressed:
        return Decision(email=email, action="cancel", reason="the address is on the suppression list")
    answer = email.kind == ANSWER_EMAIL
    # A person's answer is what a reply calls for: the reply that stops the sequence never stops it.
    if email.lead_id in round_.stopped and not answer:
        return Decision(email=email, action="cancel", reason="the lead replied or an email to it bounced")
    settings = rt.mailboxes.settings_of(name)
    timezone = email.recipient_timezone or rt.mailboxes.timezone_of(name)
    opening = window_opening(now, timezone, settings.window, settings.weekdays_only)
    # The window times cold email to the recipient's working hours; an answer goes when written.
    if opening is not None and not answer and not await round_.send_now(email):
        return Decision(
            email=email,
            action="defer",
            until=opening,
            reason=f"{WINDOW_REASON} ({settings.window} in {timezone})",
            hold=HOLD_WINDOW,
        )
    if limits.allowance[name] <= 0:
        # Only the gap holds a mailbox with room under its cap, and a person may skip that once.
        skips_gap = limits.left[name] > 0 and await round_.send_now(email)
        if not skips_gap:
            return _wait(email, limits.kind[name], limits.why[name])
    if limits.room is not None and limits.room <= 0:
        return _wait(email, HOLD_RATE_LIMIT, "the global rate limit is reached")
    context = compliance_context(
        rt,
        email,
        lead=leads[email.lead_id],
        now=now,
        public_url=round_.public_url,
        dry_run=round_.dry_run,
        suppressed=suppressed,
    )
    message = outgoing(email, reply_to=settings.reply_to)
    try:
        message, action, reason, until, check = await _judge(rt, message, context, round_)
    except Exception as exc:  # a broken check holds the email back rather than letting it through
        log.exception("compliance_check_failed", email_id=email.id)
        return _wait(
            email, HOLD_CHECK_FAILED, f"a compliance check failed ({exc!r}); the log has the details"
        )
    return Decision(
        email=email,
        action=action,
        reason=redact_address(reason, email.to_address),
        until=until,
        message=message,
        senders=chain,
        check=check,
        hold=compliance_hold(reason) if action == "defer" else None,
    )


def compliance_context(
    rt: Runtime,
    email: Email,
    *,
    lead: Lead | None,
    now: datetime,
    public_url: str,
    dry_run: bool,
    suppressed: bool | None,
) -> ComplianceContext:
    """What the compliance checks are told about ``email`` (its mailbox must be configured)."""
    name = email.mailbox or ""
    settings = rt.mailboxes.settings_of(name)
    sender = rt.mailboxes.sender_chain(name)[0]
    return ComplianceContext(
        lead=lead,
        mailbox=name,
        sender=sender,
        now=now,
        public_url=public_url,
        recipient_timezone=email.recipient_timezone or rt.mailboxes.timezone_of(name),
        dry_run=dry_run,
        delivers=bool(getattr(rt.plugins.senders.get(sender), "delivers", True)),
        tracking=settings.tracking,
        suppressed=suppressed,
        extra={"sequence_id": email.sequence_id, "reply_to": settings.reply_to, "kind": email.kind},
    )


def _public_url(rt: Runtime) -> str:
    return public_url(rt.settings)
