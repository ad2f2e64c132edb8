"""The pause book and the send record: which mailboxes are paused, and each one's last sends.

Both live in the plugin's saved state (``reputation:paused``, ``reputation:sends``), so
every process (``serve``, ``worker``, the CLI) sees the same pauses; the kernel's
Mailboxes page and ``outreach mailboxes resume`` read and lift them there.

Events arrive as synchronous calls after commit; :meth:`Reputation.observe` queues them
and one task applies the queue (a batch of sends is one write, not one per email).
:meth:`Reputation.settle` waits until the queue is applied.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
import structlog

from outreach.kernel import Email, PluginContext

from .blocks import policy_block

PLUGIN = "reputation"
ACTOR = "plugin:reputation"
#: How long the check trusts the pause book it read before reading it again (another
#: process may have resumed a mailbox).
RELOAD_SECONDS = 5.0

log = structlog.get_logger("outreach.reputation")


class ReputationOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[plugins.reputation]``: when a mailbox is paused, and which content findings block."""

    #: How many of a mailbox's last sends the hard-bounce rate is measured over.
    bounce_window: int = 100
    #: Pause when hard bounces exceed this share of those sends (0.03 = 3%).
    max_bounce_rate: float = 0.03
    #: Judge the rate only once the mailbox has sent at least this many.
    min_sends: int = 50
    #: Content findings that block a message instead of warning (``shortener``,
    #: ``attachment``, ``no_text``, ``caps_subject``, ``phrase``).
    block: list[Literal["shortener", "attachment", "no_text", "caps_subject", "phrase"]] = []


class Reputation:
    """One plugin host's pauses: the book, the send record, and the queue of events to apply."""

    def __init__(self, context: PluginContext, options: ReputationOptions) -> None:
        self.context = context
        self.options = options
        self._book: dict[str, dict[str, Any]] | None = None
        self._read_at = 0.0
        self._queue: list[tuple[Email, str, str]] = []
        #: Bounces that came back with a policy block: (our email, why).
        self._blocks: list[tuple[Email, str]] = []
        self._task: asyncio.Task[None] | None = None

    # -- the pause book ----------------------------------------------------------------

    async def book(self) -> dict[str, dict[str, Any]]:
        """The paused mailboxes, read again when older than :data:`RELOAD_SECONDS`."""
        if self._book is None or time.monotonic() - self._read_at > RELOAD_SECONDS:
            value = await self.context.load_state(PLUGIN, "paused", {})
            self._book = value if isinstance(value, dict) else {}
            self._read_at = time.monotonic()
        return self._book

    def forget(self) -> None:
        """Read the pause book again at the next check."""
        self._book = None

    async def pause(self, mailbox: str, kind: str, reason: str, email_id: int | None = None) -> bool:
        """Pause ``mailbox`` (audited); False when it already was."""
        book = await self.context.load_state(PLUGIN, "paused", {}) or {}
        if mailbox in book:
            return False
        entry = {"kind": kind, "reason": reason, "since": datetime.now(UTC).isoformat(timespec="seconds")}
        book[mailbox] = entry
        await self.context.save_state(PLUGIN, "paused", book)
        self._book, self._read_at = book, time.monotonic()
        await self.context.audit(
            "mailbox", 0, "mailbox_paused", ACTOR, new={"mailbox": mailbox, "email_id": email_id, **entry}
        )
        log.warning("mailbox_paused", mailbox=mailbox, kind=kind, email_id=email_id)
        return True

    # -- events --------------------------------------------------------------------------

    def observe(self, email: Email, old_state: str, new_state: str) -> None:
        """Queue one email event (called from the synchronous event hook)."""
        if not email.mailbox or not self._matters(email, old_state, new_state):
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no event loop: nothing can be saved now
            log.warning("reputation_event_dropped", email_id=email.id, state=new_state)
            return
        self._queue.append((email, old_state, new_state))
        self._start()

    def observe_block(self, email: Email, block: str) -> None:
        """Queue a pause for a bounce of ``email`` that says its mailbox is blocked."""
        self._blocks.append((email, block))
        self._start()

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = self.context.spawn(self._drain(), name="reputation-events")

    async def settle(self) -> None:
        """Wait until every queued event is applied."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    @staticmethod
    def _matters(email: Email, old_state: str, new_state: str) -> bool:
        if new_state in ("sent", "bounced"):
            return True
        if new_state == "categorized":
            return email.category == "complaint"
        return old_state == "sending" and new_state in ("failed", "queued") and bool(email.last_error)

    async def _drain(self) -> None:
        while self._queue or self._blocks:
            batch, self._queue = self._queue, []
            blocks, self._blocks = self._blocks, []
            try:
                await self._apply(batch)
                for email, block in blocks:
                    reason = f"a bounce of email {email.id} says its server blocks this mailbox ({block})"
                    await self.pause(str(email.mailbox), "policy_block", reason, email.id)
            except Exception as exc:  # an event hook must not break the worker
                log.error("reputation_events_failed", error=str(exc), events=len(batch) + len(blocks))

    async def _apply(self, batch: list[tuple[Email, str, str]]) -> None:
        sends = await self.context.load_state(PLUGIN, "sends", {}) or {}
        changed = False
        pauses: list[tuple[str, str, str, int]] = []
        window = max(1, self.options.bounce_window)
        for email, _old, new in batch:
            mailbox = str(email.mailbox)
            record = sends.setdefault(mailbox, {"sent": [], "bounced": []})
            if new == "sent":
                record["sent"] = [*record["sent"], email.id][-window:]
                record["bounced"] = [i for i in record["bounced"] if i in record["sent"]]
                changed = True
            elif new == "bounced":
                if email.id in record["sent"] and email.id not in record["bounced"]:
                    record["bounced"].append(email.id)
                    changed = True
                count, bounced = len(record["sent"]), len(record["bounced"])
                if count >= self.options.min_sends and bounced / count > self.options.max_bounce_rate:
                    reason = (
                        f"{bounced} hard bounces in its last {count} sends "
                        f"({bounced / count:.1%}, more than {self.options.max_bounce_rate:.1%})"
                    )
                    pauses.append((mailbox, "bounce_rate", reason, email.id))
                    # After a resume the rate is measured afresh.
                    sends[mailbox] = {"sent": [], "bounced": []}
            elif new == "categorized":
                pauses.append((mailbox, "complaint", f"a spam complaint about email {email.id}", email.id))
            else:
                block = policy_block(email.last_error)
                if block is not None:
                    reason = (
                        f"its server refused email {email.id} with a policy block ({block}): "
                        f"{email.last_error}"
                    )
                    pauses.append((mailbox, "policy_block", reason[:500], email.id))
        if changed or pauses:
            await self.context.save_state(PLUGIN, "sends", sends)
        for mailbox, kind, reason, email_id in pauses:
            await self.pause(mailbox, kind, reason, email_id)
