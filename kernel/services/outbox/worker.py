"""The outbox worker: reconcile, queue due follow-ups, plan, claim, send, record; again.

One round claims at most ``[sending] batch_size`` emails in one transaction, sends
them (mailboxes in parallel, each mailbox's emails one after another), and records
every outcome in one more. Between them, each email's hand-over is marked in the
worker's hand-over log just before it goes to a sender, and its end just after
(:mod:`.handover`), so a crash leaves at most one email per mailbox whose fate is
unknown. The worker runs inside ``outreach serve`` and ``outreach worker``; any
number of them may share a database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
import uuid
from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING

import msgspec
import structlog

from ...models import Email, Sequence
from ...states import EmailState
from ...store.engine import write_transaction
from ...store.notify import OUTBOX
from ..slices import breathe
from .delivery import deliver, first_up
from .handover import HandoverLog
from .holds import release_legal_holds
from .ledger import Outcome, claim, pace_mailboxes, record, switch_sender
from .paused_moves import move_from_paused
from .planner import Allowances, Decision, Plan, allowances, plan
from .policy import retry_delay
from .reconcile import LIVE_OWNERS, reconcile

if TYPE_CHECKING:
    from ...runtime import Runtime

log = structlog.get_logger("outreach.outbox")


def within_limits(decisions: list[Decision], limits: Allowances) -> list[Email]:
    """The emails of ``decisions`` that the daily caps and the rate limit still allow now.

    The plan counted what each mailbox had sent before this round's write transaction;
    another process may have claimed since. Counted again inside the transaction (which
    holds the store's write lock), the rest stay queued for the next round. A person's
    send-now may skip a gap, never a cap or the rate limit, so only those two count here.
    """
    allowed = dict(limits.left)
    room = limits.room
    kept = []
    for decision in decisions:
        email = decision.email
        if room is not None and room <= 0:
            break
        if email.mailbox in allowed:
            if allowed[email.mailbox] <= 0:
                continue
            allowed[email.mailbox] -= 1
        if room is not None:
            room -= 1
        kept.append(email)
    return kept


class RoundStats(msgspec.Struct, kw_only=True):
    """What one round (or, summed, a run) did."""

    planned: int = 0
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    uncertain: int = 0
    blocked: int = 0
    deferred: int = 0
    cancelled: int = 0
    followups: int = 0
    reconciled: int = 0
    #: Queued emails moved out of paused mailboxes (``[deliverability] move_when_paused``).
    moved: int = 0
    waiting: int = 0

    def add(self, other: RoundStats) -> None:
        """Add ``other``'s counts to these."""
        for field in self.__struct_fields__:
            setattr(self, field, getattr(self, field) + getattr(other, field))

    @property
    def busy(self) -> bool:
        """Whether the round did anything that may make another round useful at once."""
        return bool(
            self.planned
            or self.claimed
            or self.followups
            or self.reconciled
            or self.moved
            or self.deferred
            or self.blocked
            or self.cancelled
        )


class OutboxWorker:
    """Sends due emails until stopped."""

    def __init__(self, runtime: Runtime, *, rng: random.Random | None = None) -> None:
        self._rt = runtime
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._rng = rng or random.Random()
        self._down_until: dict[str, datetime] = {}
        self._task: asyncio.Task[None] | None = None
        self._last_housekeeping = float("-inf")
        self._sequences: dict[int, Sequence] = {}
        self._sequences_at = float("-inf")
        self._stop = asyncio.Event()
        #: Set by :meth:`wake` (and :meth:`stop`): the pause between idle rounds ends early.
        self._woken = asyncio.Event()
        #: Whether this worker has looked at emails held for legal settings since it started.
        self._holds_released = False
        #: Which claimed emails this worker has begun handing to a server, and how each ended.
        self._handovers = HandoverLog(runtime.settings.data_path, self.owner)
        #: Set once outcomes could not be recorded: their emails stay claimed by this
        #: worker, so the log keeps every line from then on (it is never compacted).
        self._unrecorded = False

    async def _housekeeping(self, stats: RoundStats, *, force: bool) -> bool:
        """Reconcile, queue due follow-ups and move paused mailboxes' queues, at most once per
        ``poll_seconds`` while busy."""
        if not force and time.monotonic() - self._last_housekeeping < self._rt.settings.sending.poll_seconds:
            return False
        self._last_housekeeping = time.monotonic()
        settled = await reconcile(self._rt, self.owner)
        stats.reconciled = len(settled.sent) + len(settled.requeued) + len(settled.attention)
        stats.followups = len(await self._rt.enrollment.queue_due_followups())
        stats.moved = sum(len(result.moved) for result in await move_from_paused(self._rt))
        return True

    async def run_once(self) -> RoundStats:
        """One round: reconcile, queue follow-ups, and send one batch."""
        return await self._rounds(max_rounds=1)

    async def _rounds(self, *, max_rounds: int | None = None, forever: bool = False) -> RoundStats:
        """Rounds back to back, each batch's sending overlapping the next one's planning.

        While batch N is with the servers, batch N+1 is planned; once N is done, N+1
        is claimed and sent, and N's outcomes are recorded while N+1 is with the
        servers. At most one claimed batch is ever being sent. With ``forever``, a
        round that fails is logged and the next one starts from the store again.
        """
        LIVE_OWNERS.add(self.owner)
        if not self._holds_released:
            # The config may have changed since these emails were held: judge them again now.
            self._holds_released = True
            await release_legal_holds(self._rt.clock(), actor=f"system:worker:{self.owner}")
        total = RoundStats()
        poll = self._rt.settings.sending.poll_seconds
        in_flight: tuple[asyncio.Task[list[Outcome]], RoundStats] | None = None
        landed: tuple[list[Outcome], RoundStats] | None = None
        rounds, force = 0, True
        try:
            while not (forever and self._stop.is_set()):
                stats = RoundStats()
                try:
                    housekept = await self._housekeeping(stats, force=force)
                    current = await plan(self._rt, limit=self._rt.settings.sending.batch_size, rng=self._rng)
                    if in_flight is not None:
                        task, flight_stats = in_flight
                        in_flight = None
                        landed = (await task, flight_stats)
                    stats.planned = len(current.of("send"))
                    stats.waiting = len(current.of("wait"))
                    claimed = await self._apply(current, stats)
                    if claimed:
                        decisions = {d.email.id: d for d in current.of("send")}
                        task = asyncio.create_task(self._send(claimed, decisions, current.now))
                        in_flight = (task, stats)
                    if landed is not None:
                        outcomes, landed_stats = landed
                        landed = None
                        await self._record(outcomes, landed_stats)
                        total.add(landed_stats)
                except Exception:
                    if not forever:
                        raise
                    log.exception("outbox_round_failed")
                    in_flight, landed = await self._settle(in_flight, landed, total)
                    await self._pause(poll)
                    force = True
                    continue
                if in_flight is None or in_flight[1] is not stats:
                    total.add(stats)
                rounds += 1
                idle = in_flight is None and not stats.busy
                if idle and not housekept:
                    force = True  # look for follow-ups and orphans once more before calling it idle
                    continue
                force = False
                if idle or (max_rounds is not None and rounds >= max_rounds):
                    in_flight, landed = await self._settle(in_flight, landed, total)
                    total.waiting = stats.waiting
                    if not forever:
                        return total
                    if idle:
                        await self._pause(poll)
                    rounds, force = 0, True
            await self._settle(in_flight, landed, total)
            return total
        finally:
            if in_flight is not None:
                in_flight[0].cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await in_flight[0]
            LIVE_OWNERS.discard(self.owner)
            # Stopped: every outcome is recorded, or its email is orphaned and then
            # settled as if there had been no log (always safe).
            self._handovers.close()

    async def _settle(
        self,
        in_flight: tuple[asyncio.Task[list[Outcome]], RoundStats] | None,
        landed: tuple[list[Outcome], RoundStats] | None,
        total: RoundStats,
    ) -> tuple[None, None]:
        """Finish the batch being sent and record every outcome not yet recorded."""
        pending = [landed] if landed is not None else []
        if in_flight is not None:
            task, flight_stats = in_flight
            try:
                pending.append((await task, flight_stats))
            except Exception:  # its outcomes are lost; the lease and reconciliation settle them
                log.exception("outbox_batch_failed")
                self._unrecorded = True
        for outcomes, batch_stats in pending:
            await self._record(outcomes, batch_stats)
            total.add(batch_stats)
        if not self._unrecorded:
            # Nothing is being sent and every outcome is recorded: the log's lines are done with.
            self._handovers.compact()
        return None, None

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), timeout=seconds)
        self._woken.clear()

    def wake(self, *, others: bool = True) -> None:
        """Start the next round now rather than after ``poll_seconds``: emails were just queued
        (call it after the commit).

        A worker in this process sends them at once; on PostgreSQL the workers of the other
        processes are told too (``others``), elsewhere they find them at their next poll.
        """
        self._woken.set()
        if others:
            self._rt.signals.publish(OUTBOX)

    async def _apply(self, current: Plan, stats: RoundStats) -> list[Email]:
        rt, now = self._rt, current.now
        senders = {
            d.email.id: first_up(d.senders, self._down_until, now) for d in current.of("send") if d.senders
        }
        events = []
        async with write_transaction():
            for decision in current.of("block") + current.of("cancel"):
                new = EmailState.FAILED if decision.action == "block" else EmailState.CANCELLED
                try:
                    email, old = await rt.emails.transition_in_transaction(
                        decision.email.id,
                        new,
                        actor=f"compliance:{decision.check}" if decision.check else "system:outbox",
                        expected_version=decision.email.version,
                        reason=decision.reason,
                        changes={"last_error": decision.reason},
                    )
                except Exception as exc:  # changed meanwhile by someone else: decide again next round
                    log.info("decision_skipped", email_id=decision.email.id, error=str(exc))
                    continue
                events.append((email, old, new))
            for decision in current.of("defer"):
                updated = await rt.emails.defer_in_transaction(
                    decision.email, decision.until, decision.reason
                )
                stats.deferred += int(updated)
            claimed = await claim(
                rt,
                within_limits(current.of("send"), await allowances(rt, now)),
                owner=self.owner,
                now=now,
                senders=senders,
            )
            await pace_mailboxes(claimed, current.next_send, now)
        for email, old, new in events:
            rt.emails.notify(email, old, new, "system:outbox")
            if new == EmailState.CANCELLED:
                stats.cancelled += 1
                await rt.enrollment.stop(
                    email.lead_id, email.last_error or "cancelled", actor="system:outbox"
                )
            else:
                stats.blocked += 1
        for email in claimed:
            await breathe()
            rt.emails.notify(email, EmailState.QUEUED, EmailState.SENDING, "system:outbox")
        stats.claimed = len(claimed)
        return claimed

    async def _send(
        self, claimed: list[Email], decisions: dict[int, Decision], now: datetime
    ) -> list[Outcome]:
        by_mailbox: dict[str, list[Email]] = defaultdict(list)
        for email in claimed:
            by_mailbox[email.mailbox or ""].append(email)
        outcomes: list[Outcome] = []

        async def switch(email_id: int, sender: str) -> None:
            await switch_sender(email_id, sender, self.owner)

        async def send_all(emails: list[Email]) -> None:
            for position, email in enumerate(emails):
                decision = decisions[email.id]
                try:
                    outcome = await deliver(
                        self._rt,
                        email,
                        decision.message,  # type: ignore[arg-type]
                        decision.senders,
                        down_until=self._down_until,
                        now=now,
                        switch=switch,
                        handovers=self._handovers,
                    )
                except asyncio.CancelledError:
                    # Stopping: the one in flight may be with the server; the rest never left.
                    outcomes.append(
                        Outcome(email=email, kind="uncertain", error="the worker stopped during the send")
                    )
                    outcomes.extend(
                        Outcome(email=e, kind="released", error="the worker stopped before sending it")
                        for e in emails[position + 1 :]
                    )
                    raise
                outcomes.append(outcome)

        tasks = [asyncio.ensure_future(send_all(group)) for group in by_mailbox.values()]
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.shield(self._record(outcomes, RoundStats()))
            raise
        except Exception:
            self._unrecorded = True  # the outcomes so far are lost with this batch
            raise
        return outcomes

    async def _record(self, outcomes: list[Outcome], stats: RoundStats) -> None:
        settings = self._rt.settings.sending
        now = self._rt.clock()
        retry_at = {}
        for outcome in outcomes:
            if outcome.kind == "retry":
                retry_at[outcome.email.id] = now + retry_delay(
                    outcome.email.attempts, settings.retry_base_seconds, settings.retry_max_seconds, self._rng
                )
            elif outcome.kind == "unavailable":
                retry_at[outcome.email.id] = now + retry_delay(
                    1, settings.unavailable_pause_seconds, settings.unavailable_pause_seconds, self._rng
                )
        if time.monotonic() - self._sequences_at > settings.poll_seconds:
            # Sequences rarely change; re-read them now and then rather than per batch.
            self._sequences, self._sequences_at = {}, time.monotonic()
        try:
            events = await record(
                self._rt,
                outcomes,
                owner=self.owner,
                retry_at=retry_at,
                max_attempts=settings.max_attempts,
                now=now,
                sequences=self._sequences,
            )
        except BaseException:
            self._unrecorded = True
            raise
        sent: dict[str | None, list[int]] = defaultdict(list)
        for email, old, new in events:
            await breathe()
            self._rt.emails.notify(email, old, new, f"system:worker:{self.owner}")
            if new == EmailState.SENT:
                stats.sent += 1
                sent[email.sender_backend].append(email.id)
            elif new == EmailState.FAILED:
                stats.failed += 1
                log.info("email_failed", email_id=email.id, lead_id=email.lead_id)
            else:
                stats.retried += 1
        stats.uncertain += sum(1 for o in outcomes if o.kind == "uncertain")
        # One line per sender and batch: a line per email cost more than recording it did.
        for sender, ids in sent.items():
            log.info("emails_sent", sender=sender, count=len(ids), email_ids=ids)

    async def run_until_idle(self, *, max_rounds: int | None = None) -> RoundStats:
        """Rounds until one finds nothing to do now; the totals."""
        return await self._rounds(max_rounds=max_rounds)

    async def run_forever(self) -> None:
        """Rounds until :meth:`stop`; sleeps ``poll_seconds`` when a round found nothing to do."""
        log.info("outbox_worker_started", owner=self.owner)
        try:
            await self._rounds(forever=True)
        finally:
            log.info("outbox_worker_stopped", owner=self.owner)

    def start(self) -> None:
        """Run :meth:`run_forever` as a background task."""
        self._stop.clear()
        self._woken.clear()
        self._task = asyncio.create_task(self.run_forever())

    async def stop(self) -> None:
        """Stop the background task; an email in flight is left for reconciliation."""
        self._stop.set()
        self._woken.set()
        if self._task is not None:
            task, self._task = self._task, None
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=10)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
