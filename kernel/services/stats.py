"""Figures for the dashboard: the outreach funnel and sends per day, counted in SQL.

Only cold email counts: a person's answer to a reply (``emails.kind = 'answer'``) is in
none of these figures. A lead in a deal stage (interested, meeting, won, lost) was
approved and sent to.
"""

from __future__ import annotations

from datetime import date, timedelta

import msgspec

from ..models import ANSWER_EMAIL
from ..states import DEAL_STATES, LEFT_STATES, EmailState, LeadState
from ..store.filters import utc_day
from ..store.tables import EmailRow, LeadRow
from .transitions import utcnow

#: Email states that prove a message left (a bounce did leave).
_SENT = LEFT_STATES
_OPENED = (EmailState.OPENED, EmailState.REPLIED, EmailState.CATEGORIZED)
_REPLIED = (EmailState.REPLIED, EmailState.CATEGORIZED)
_APPROVED = (LeadState.APPROVED, LeadState.READY_FOR_OUTREACH, *DEAL_STATES)
#: The emails these figures count: every step of a sequence, no answer a person wrote.
_COLD = f"kind <> '{ANSWER_EMAIL}'"


class FunnelStep(msgspec.Struct, frozen=True):
    """One stage of the funnel: how many leads reached it."""

    name: str
    count: int


class DayCount(msgspec.Struct, frozen=True):
    """How many emails went out on one day (UTC)."""

    day: date
    count: int


def _in(values: tuple[str, ...]) -> str:
    # Fixed enum values, never user input: safe to inline.
    return ", ".join(f"'{value}'" for value in values)


async def _scalar(sql: str) -> int:
    rows = await LeadRow.raw(sql)
    return int(rows[0]["n"]) if rows else 0


async def funnel() -> list[FunnelStep]:
    """Leads that were discovered, approved, sent an email, opened one, and replied."""
    sent_leads = (
        f"SELECT DISTINCT lead FROM emails WHERE {_COLD} "
        f"AND (state IN ({_in(_SENT)}) OR sent_at IS NOT NULL) "
        f"UNION SELECT id FROM leads WHERE lifecycle_state IN ({_in(DEAL_STATES)})"
    )
    return [
        FunnelStep("discovered", await _scalar("SELECT COUNT(*) AS n FROM leads")),
        FunnelStep(
            "approved",
            await _scalar(
                f"SELECT COUNT(*) AS n FROM leads WHERE lifecycle_state IN ({_in(_APPROVED)}) "
                f"OR id IN (SELECT lead FROM emails WHERE {_COLD})"
            ),
        ),
        FunnelStep("sent", await _scalar(f"SELECT COUNT(*) AS n FROM ({sent_leads}) AS sent_leads")),
        FunnelStep(
            "opened",
            await _scalar(
                f"SELECT COUNT(DISTINCT lead) AS n FROM emails WHERE {_COLD} AND state IN ({_in(_OPENED)})"
            ),
        ),
        FunnelStep(
            "replied",
            await _scalar(
                f"SELECT COUNT(DISTINCT lead) AS n FROM emails WHERE {_COLD} AND state IN ({_in(_REPLIED)})"
            ),
        ),
    ]


async def sends_per_day(days: int = 14, *, today: date | None = None) -> list[DayCount]:
    """Emails sent on each of the last ``days`` days (UTC), oldest first, zeros included."""
    last = today or utcnow().date()
    first = last - timedelta(days=days - 1)
    day = utc_day(EmailRow.sent_at)
    rows = await EmailRow.raw(
        f"SELECT {day} AS day, COUNT(*) AS n FROM emails "
        f"WHERE {_COLD} AND sent_at IS NOT NULL AND {day} >= {{}} GROUP BY {day}",
        first.isoformat(),
    )
    counts = {row["day"]: int(row["n"]) for row in rows}
    return [
        DayCount(day=first + timedelta(days=i), count=counts.get((first + timedelta(days=i)).isoformat(), 0))
        for i in range(days)
    ]


class Engagement(msgspec.Struct, frozen=True, kw_only=True):
    """What became of the emails that left: opened and clicked by people, replied, bounced.

    ``flagged`` counts the opens and clicks of image proxies and scanners, which are
    recorded but not counted as people's.
    """

    sent: int
    opened: int
    clicked: int
    replied: int
    bounced: int
    flagged: int


async def engagement() -> Engagement:
    """The dashboard's open, click, reply and bounce counts, in one query."""
    rows = await EmailRow.raw(
        "SELECT "
        f"(SELECT COUNT(*) FROM emails WHERE {_COLD} AND state IN ({_in(_SENT)})) AS sent, "
        "(SELECT COUNT(DISTINCT email) FROM tracking_events WHERE NOT flagged) AS opened, "
        "(SELECT COUNT(DISTINCT email) FROM tracking_events "
        "WHERE NOT flagged AND kind = 'click') AS clicked, "
        f"(SELECT COUNT(*) FROM emails WHERE {_COLD} AND state IN ({_in(_REPLIED)})) AS replied, "
        f"(SELECT COUNT(*) FROM emails WHERE {_COLD} AND state = '{EmailState.BOUNCED}') AS bounced, "
        "(SELECT COUNT(*) FROM tracking_events WHERE flagged) AS flagged"
    )
    row = rows[0]
    return Engagement(**{name: int(row[name] or 0) for name in Engagement.__struct_fields__})
