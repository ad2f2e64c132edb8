"""The arithmetic of sending policy: windows, business days, caps with ramp-up, backoff.

Pure functions of their arguments (times are timezone-aware), so the worker, the
dry run and the tests agree on every decision.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ...config import MailboxSettings, parse_window


def _zone(name: str | None) -> ZoneInfo:
    return ZoneInfo(name or "UTC")


def _sending_day(day: date, weekdays_only: bool) -> bool:
    return not weekdays_only or day.weekday() < 5


def window_opening(now: datetime, timezone: str | None, window: str, weekdays_only: bool) -> datetime | None:
    """None when ``now`` is inside the window in ``timezone``; else when the window next opens (UTC)."""
    start, end = parse_window(window)
    zone = _zone(timezone)
    local = now.astimezone(zone)
    inside = local.time() >= start and (end is None or local.time() < end)
    if inside and _sending_day(local.date(), weekdays_only):
        return None
    day = local.date()
    if local.time() >= start:
        day += timedelta(days=1)
    while not _sending_day(day, weekdays_only):
        day += timedelta(days=1)
    opening = datetime.combine(day, start, tzinfo=zone)
    return opening.astimezone(UTC)


def add_delay(start: datetime, days: float, business_days: bool, timezone: str | None) -> datetime:
    """``start`` plus ``days``; with ``business_days``, weekends (in ``timezone``) are skipped."""
    if not business_days:
        return start + timedelta(days=days)
    zone = _zone(timezone)
    local = start.astimezone(zone)
    whole = int(days)
    while whole > 0:
        local += timedelta(days=1)
        if local.weekday() < 5:
            whole -= 1
    local += timedelta(days=days - int(days))
    while local.weekday() >= 5:
        local += timedelta(days=1)
    return local.astimezone(UTC)


def day_start(now: datetime, timezone: str | None) -> datetime:
    """Midnight of ``now``'s day in ``timezone``, as UTC."""
    zone = _zone(timezone)
    return datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone).astimezone(UTC)


def cap_for_day(mailbox: MailboxSettings, first_sent_at: datetime | None, now: datetime) -> int:
    """The mailbox's cap today: ``daily_cap``, or less while ramping up from its first send."""
    if mailbox.ramp_up_start is None:
        return mailbox.daily_cap
    days = 0 if first_sent_at is None else max(0, (now - first_sent_at).days)
    return min(mailbox.daily_cap, mailbox.ramp_up_start + days * mailbox.ramp_up_step)


def gap_after(mailbox: MailboxSettings, rng: random.Random) -> timedelta:
    """The pause before the mailbox's next send: the minimum gap plus random jitter."""
    base = mailbox.min_gap_seconds
    return timedelta(seconds=base + rng.uniform(0, base * mailbox.gap_jitter))


def retry_delay(attempts: int, base: float, maximum: float, rng: random.Random) -> timedelta:
    """Exponential backoff with full jitter over the upper half: attempt n waits about base * 2^(n-1)."""
    ceiling = min(maximum, base * (2 ** max(0, attempts - 1)))
    return timedelta(seconds=rng.uniform(ceiling / 2, ceiling))
