"""Settling emails left in ``sending``: by a crash, a lost connection, or a worker that vanished.

An email is orphaned when its worker released it (the outcome was unknown), when
the process that claimed it on this host is gone, or when its claim is older than
the lease.

When the worker that claimed it is gone and ran on this host, its hand-over log says
more (see :mod:`.handover`: a line written just before each email could reach a
server, and one when the send ended), provided the machine has not rebooted since it
was written. Then an orphan is one of:

- never handed over (no ``H`` line for its claim): it was with no server, and goes
  back to ``queued`` at once, with an audit row saying so;
- accepted (``H`` then ``A``): the server took it and the worker died before recording
  it. It is ``sent``, with the provider's ids when the sender gave any;
- not handed over after all (``H`` then ``N``): refused before the server accepted it,
  or the server could not be reached. Back to ``queued``;
- handed over with no outcome (``H`` alone): the server may or may not have it. At
  most one email per open connection per crash is left so: the one being handed over.

Such an email, and every orphan when there is no log to trust (a worker of another
machine sharing a PostgreSQL database, a reboot, a claim released by its worker, a
lease that ran out while the worker lives), may or may not be with the server, so it
is never simply sent again. Its sender is asked by Message-ID when it can be (a
:class:`ReconcilingSender`: the Gmail API's search, an IMAP Sent folder, the outbox
folder): found, it is ``sent``; not found, it goes back to ``queued`` to be sent with
the same Message-ID. A sender that cannot be asked leaves it on the needs-attention
list, where a person marks it sent or re-queues it. Look-ups wait
``reconcile_after_seconds`` after the claim, so the provider has had time to index
the message.

A log is deleted once its worker is gone and has no email left in ``sending``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import msgspec
import structlog

from ...errors import ConcurrentUpdate, LookupUnsupported
from ...models import Email
from ...protocols import ReconcilingSender
from ...states import EmailState
from ...store.engine import write_transaction
from ...store.mapping import email_from_row
from ...store.tables import EmailRow
from .. import audit
from .handover import ACCEPTED, HANDED_OVER, NOT_HANDED_OVER, Mark, handover_path, read_marks, stale_logs
from .ledger import schedule_next_steps

if TYPE_CHECKING:
    from ...runtime import Runtime

log = structlog.get_logger("outreach.outbox")
ACTOR = "system:reconcile"

#: Workers running in this process; any other claim made by this process belongs to a dead one.
LIVE_OWNERS: set[str] = set()


class ReconcileResult(msgspec.Struct, kw_only=True):
    """What one reconciliation round did, by email id."""

    sent: list[int] = []
    requeued: list[int] = []
    attention: list[int] = []


def _alive(owner: str | None, my_owner: str) -> bool:
    """Whether the worker named ``owner`` (``host:pid:nonce``) may still be sending."""
    if not owner:
        return False
    if owner == my_owner:
        return True
    host, _, rest = owner.partition(":")
    pid = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's worker: only the lease can tell
    if int(pid) == os.getpid():
        return owner in LIVE_OWNERS
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def orphans(rt: Runtime, my_owner: str, now: datetime) -> list[Email]:
    """Emails in ``sending`` that no live worker is sending."""
    lease = timedelta(seconds=rt.settings.sending.lease_seconds)
    rows = await EmailRow.select(EmailRow.id, EmailRow.claimed_by, EmailRow.claimed_at).where(
        (EmailRow.state == EmailState.SENDING) & EmailRow.needs_attention.eq(False)
    )
    ids = []
    for row in rows:
        claimed_at = row.get("claimed_at")
        expired = claimed_at is None or claimed_at <= now - lease
        if expired or not _alive(row.get("claimed_by"), my_owner):
            ids.append(row["id"])
    if not ids:
        return []
    return [email_from_row(r, rt.vault) for r in await EmailRow.select().where(EmailRow.id.is_in(ids))]


def _this_host(owner: str) -> bool:
    return owner.partition(":")[0] == socket.gethostname()


async def _marks(rt: Runtime, owner: str | None, my_owner: str) -> dict[int, Mark] | None:
    """The hand-over marks of ``owner``'s log, if it ran on this host, is gone, and the log is trusted."""
    if not owner or not _this_host(owner) or _alive(owner, my_owner):
        return None  # a live worker may still write its log: only a finished one is read
    return await asyncio.to_thread(read_marks, handover_path(rt.settings.data_path, owner), owner)


async def reconcile(rt: Runtime, my_owner: str) -> ReconcileResult:
    """Settle every orphaned email that can be settled now."""
    now = rt.clock()
    result = ReconcileResult()
    grace = timedelta(seconds=rt.settings.sending.reconcile_after_seconds)
    logs: dict[str | None, dict[int, Mark] | None] = {}
    for email in await orphans(rt, my_owner, now):
        name = email.sender_backend or ""
        owner = email.claimed_by
        if owner not in logs:
            logs[owner] = await _marks(rt, owner, my_owner)
        marks = logs[owner]
        if marks is not None:
            mark = marks.get(email.id)
            if mark is None or mark.version != email.version:
                reason = (
                    "its worker stopped after claiming it and before handing it to any server; "
                    "it was never sent and goes back to the queue"
                )
                if await _requeue(rt, email, now, reason):
                    result.requeued.append(email.id)
                continue
            if mark.state == ACCEPTED:
                await _sent(
                    rt,
                    email,
                    now,
                    f"{name or 'its sender'} accepted it before its worker stopped",
                    mark.provider_message_id,
                    mark.provider_thread_id,
                )
                result.sent.append(email.id)
                continue
            if mark.state == NOT_HANDED_OVER:
                reason = (
                    f"its worker stopped after the send through {name or 'its sender'} ended without the "
                    "message reaching a server; it was never sent and goes back to the queue"
                )
                if await _requeue(rt, email, now, reason):
                    result.requeued.append(email.id)
                continue
            assert mark.state == HANDED_OVER  # the outcome is unknown: as without a log
        sender = rt.plugins.senders.get(name) if name in rt.plugins.senders else None
        if not isinstance(sender, ReconcilingSender):
            await _needs_attention(rt, email, name)
            result.attention.append(email.id)
            continue
        if email.claimed_at is not None and email.claimed_at > now - grace:
            continue
        try:
            receipt = await sender.lookup(email.message_id or "", mailbox=email.mailbox)
        except LookupUnsupported as exc:
            await _needs_attention(rt, email, name, str(exc))
            result.attention.append(email.id)
            continue
        except Exception as exc:  # the provider cannot be asked now; ask again next round
            log.warning("reconcile_lookup_failed", email_id=email.id, sender=name, error=str(exc))
            continue
        if receipt is not None:
            await _sent(
                rt,
                email,
                now,
                f"found at {name} by its Message-ID",
                receipt.provider_message_id,
                receipt.provider_thread_id,
            )
            result.sent.append(email.id)
        else:
            await rt.emails.transition(
                email.id,
                EmailState.QUEUED,
                actor=ACTOR,
                expected_version=email.version,
                reason=f"not found at {name}; it will be sent again with the same Message-ID",
                changes={"claimed_by": None, "due_at": now, "attempts": max(0, email.attempts - 1)},
            )
            result.requeued.append(email.id)
    if result.sent or result.requeued or result.attention:
        log.info(
            "outbox_reconciled",
            sent=len(result.sent),
            requeued=len(result.requeued),
            attention=len(result.attention),
        )
    try:
        await sweep_logs(rt, my_owner)
    except Exception as exc:  # a log left over is removed next time
        log.warning("handover_sweep_failed", error=str(exc))
    return result


async def _sent(
    rt: Runtime,
    email: Email,
    now: datetime,
    reason: str,
    provider_message_id: str | None = None,
    provider_thread_id: str | None = None,
) -> None:
    changed = await rt.emails.transition(
        email.id,
        EmailState.SENT,
        actor=ACTOR,
        expected_version=email.version,
        reason=reason,
        changes={
            "sent_at": now,
            "claimed_by": None,
            "provider_message_id": provider_message_id or email.provider_message_id,
            "provider_thread_id": provider_thread_id or email.provider_thread_id,
        },
    )
    async with write_transaction():
        await schedule_next_steps(rt, [(changed, now)])


async def _requeue(rt: Runtime, email: Email, now: datetime, reason: str) -> bool:
    """Queue again an email its dead worker never left with a server; False if it changed meanwhile."""
    try:
        await rt.emails.transition(
            email.id,
            EmailState.QUEUED,
            actor=ACTOR,
            expected_version=email.version,
            reason=reason,
            changes={"claimed_by": None, "due_at": now, "attempts": max(0, email.attempts - 1)},
        )
    except ConcurrentUpdate as exc:  # settled meanwhile (another reconciler): nothing to do
        log.info("reconcile_skipped", email_id=email.id, error=str(exc))
        return False
    return True


async def sweep_logs(rt: Runtime, my_owner: str) -> None:
    """Delete the hand-over logs no reconciliation needs any more (see the module doc)."""
    data_path = rt.settings.data_path
    stale = await asyncio.to_thread(stale_logs, data_path, {my_owner, *LIVE_OWNERS})
    for path, owner in stale:
        if owner is not None:
            if _alive(owner, my_owner):
                continue
            left = await EmailRow.count().where(
                (EmailRow.state == EmailState.SENDING) & (EmailRow.claimed_by == owner)
            )
            if left:
                continue
        with contextlib.suppress(OSError):
            path.unlink()


async def _needs_attention(rt: Runtime, email: Email, sender: str, why: str | None = None) -> None:
    reason = (
        f"the send through {sender or 'its sender'} was interrupted and "
        f"{why or (sender or 'it') + ' cannot look messages up'}; check the mailbox's Sent folder, "
        "then mark the email sent or re-queue it"
    )
    async with write_transaction():
        await EmailRow.update(
            {EmailRow.needs_attention: True, EmailRow.claimed_by: None, EmailRow.last_error: reason}
        ).where((EmailRow.id == email.id) & (EmailRow.state == EmailState.SENDING))
        await audit.record("email", email.id, "needs_attention", ACTOR, new={"reason": reason})
    log.warning("email_flagged_for_attention", email_id=email.id, sender=sender)
