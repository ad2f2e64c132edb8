"""Opens and clicks: the requests behind the pixel and the tracked links, recorded and judged.

The web routes check each token (a forged or altered one changes nothing) and hand
the email id here. Every request is recorded; those from image proxies and scanners
are flagged (see :mod:`.tracking_agents`). The first request that counts moves the
email from ``sent`` or ``delivered`` to ``opened``: a click proves an open too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from ..models import TrackingEvent
from ..states import EMAIL_MACHINE, EmailState
from ..store.engine import write_transaction
from ..store.mapping import tracking_event_from_row
from ..store.tables import EmailRow, TrackingEventRow
from .tracking_agents import flag_reason

if TYPE_CHECKING:
    from ..runtime import Runtime

log = structlog.get_logger("outreach.tracking")
ACTOR = "system:tracking"
KINDS = ("open", "click")


class TrackingService:
    """Records opens and clicks and moves emails to ``opened``."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    async def record(
        self, kind: str, email_id: int, *, user_agent: str | None, url: str | None = None
    ) -> TrackingEvent | None:
        """Record one open or click of ``email_id``; None when there is no such email (any more)."""
        if kind not in KINDS:
            raise ValueError(f"unknown tracking event {kind!r}")
        now = self._rt.clock()
        opened = None
        async with write_transaction():
            row = (
                await EmailRow.select(EmailRow.state, EmailRow.sent_at).where(EmailRow.id == email_id).first()
            )
            if row is None:
                return None
            reason = flag_reason(user_agent, row["sent_at"], now, self._rt.settings.tracking.scanner_seconds)
            inserted = await TrackingEventRow.insert(
                TrackingEventRow(
                    email=email_id,
                    kind=kind,
                    url=url,
                    user_agent=(user_agent or "")[:512] or None,
                    flagged=reason is not None,
                    flag_reason=reason,
                    created_at=now,
                )
            ).returning(*TrackingEventRow.all_columns())
            if reason is None and EMAIL_MACHINE.can(row["state"], EmailState.OPENED):
                opened = await self._rt.emails.transition_in_transaction(
                    email_id, EmailState.OPENED, actor=ACTOR, reason=f"{kind} by a person"
                )
        if opened is not None:
            email, old = opened
            self._rt.emails.notify(email, old, EmailState.OPENED, ACTOR)
        log.info(f"email_{kind}_recorded", email_id=email_id, flagged=reason is not None)
        return tracking_event_from_row(inserted[0])

    async def events(self, email_ids: list[int]) -> list[TrackingEvent]:
        """Every open and click of these emails, oldest first."""
        if not email_ids:
            return []
        rows = await (
            TrackingEventRow.select()
            .where(TrackingEventRow.email.is_in(email_ids))
            .order_by(TrackingEventRow.id)
        )
        return [tracking_event_from_row(row) for row in rows]
