"""``[deliverability] move_when_paused``: a paused mailbox's queue goes to the mailboxes that can send.

By default the queued emails of a paused mailbox wait for a person to resume it. With
``move_when_paused = true`` the worker's housekeeping moves them, through the same
:func:`.actions.move` a person uses (new From address, a Message-ID in the new domain,
the enrollment's later steps along, every email audited), to the configured mailboxes
that are not paused and have a sender, spread by what each may still send today.

An email the pause had already deferred is due again at once in its new mailbox; one
due later (a follow-up days away) keeps its time.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import structlog

from ...states import EmailState
from ...store.engine import write_transaction
from ...store.filters import in_values
from ...store.tables import EmailRow
from ..mailboxes import pause_book
from ..transitions import utcnow
from .actions import MoveResult, move

if TYPE_CHECKING:
    from ...runtime import Runtime

log = structlog.get_logger("outreach.outbox")

ACTOR = "system:move_when_paused"


def _deferred_by_pause(mailbox: str) -> str:
    """The start of the reason the ``paused_mailbox`` check defers this mailbox's emails with."""
    return f"mailbox '{mailbox}' is paused%"


async def move_from_paused(rt: Runtime) -> list[MoveResult]:
    """Move every paused mailbox's queued emails to the mailboxes that may send (when configured to)."""
    if not rt.settings.deliverability.move_when_paused:
        return []
    book = await pause_book()
    paused = [name for name in rt.mailboxes.names() if name in book]
    if not paused:
        return []
    targets = [
        name
        for name in rt.mailboxes.names()
        if name not in book and rt.mailboxes.sender_chain(name)[0] in rt.plugins.senders
    ]
    results: list[MoveResult] = []
    for name in paused:
        rows = await (
            EmailRow.select(EmailRow.id)
            .where(
                (EmailRow.mailbox == name)
                & (EmailRow.state == EmailState.QUEUED)
                & EmailRow.needs_attention.eq(False)
            )
            .order_by(EmailRow.due_at)
        )
        if not rows:
            continue
        if not targets:
            log.info("paused_queue_waits", mailbox=name, emails=len(rows), why="no mailbox can take it")
            continue
        shares: dict[str, list[int]] = defaultdict(list)
        for row, target in zip(rows, await rt.mailboxes.assign(len(rows), among=targets), strict=True):
            shares[target].append(row["id"])
        for target, ids in shares.items():
            result = await move(rt, name, target, ids, actor=ACTOR)
            await _due_now(rt, name, result.moved)
            results.append(result)
            log.info("paused_queue_moved", mailbox=name, to=target, emails=len(result.moved))
    return results


async def _due_now(rt: Runtime, paused: str, ids: list[int]) -> None:
    """Make the moved emails the pause had deferred due now (the check pushed them back)."""
    if not ids:
        return
    async with write_transaction():
        await EmailRow.update(
            {
                EmailRow.due_at: rt.clock(),
                EmailRow.last_error: None,
                EmailRow.version: EmailRow.version + 1,
                EmailRow.updated_at: utcnow(),
            }
        ).where(
            in_values(EmailRow.id, ids)
            & (EmailRow.state == EmailState.QUEUED)
            & EmailRow.last_error.like(_deferred_by_pause(paused))
            & (EmailRow.due_at > rt.clock())
        )
