"""Settling emails left in ``sending``: by a crash, a lost connection, or a worker that vanished.

Such an email may or may not be with the server, so it is never simply sent again.
Its sender is asked by Message-ID when it can be (a :class:`ReconcilingSender`:
the Gmail API's search, an IMAP Sent folder, the outbox folder): found, it is
``sent``; not found, it goes back to ``queued`` to be sent with the same
Message-ID. A sender that cannot be asked leaves it on the needs-attention list,
where a person marks it sent or re-queues it.

An email is orphaned when its worker released it (the outcome was unknown), when
the process that claimed it on this host is gone, or when its claim is older than
the lease. Look-ups wait ``reconcile_after_seconds`` after the claim, so the
provider has had time to index the message.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import msgspec
import structlog

from ...errors import LookupUnsupported
from ...models import Email
from ...protocols import ReconcilingSender
from ...states import EmailState
from ...store.engine import write_transaction
from ...store.mapping import email_from_row
from ...store.tables import EmailRow
from .. import audit
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


async def reconcile(rt: Runtime, my_owner: str) -> ReconcileResult:
    """Settle every orphaned email that can be settled now."""
    now = rt.clock()
    result = ReconcileResult()
    grace = timedelta(seconds=rt.settings.sending.reconcile_after_seconds)
    for email in await orphans(rt, my_owner, now):
        name = email.sender_backend or ""
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
            sent_at = now
            changed = await rt.emails.transition(
                email.id,
                EmailState.SENT,
                actor=ACTOR,
                expected_version=email.version,
                reason=f"found at {name} by its Message-ID",
                changes={
                    "sent_at": sent_at,
                    "claimed_by": None,
                    "provider_message_id": receipt.provider_message_id,
                    "provider_thread_id": receipt.provider_thread_id or email.provider_thread_id,
                },
            )
            async with write_transaction():
                await schedule_next_steps(rt, [(changed, sent_at)])
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
    return result


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
