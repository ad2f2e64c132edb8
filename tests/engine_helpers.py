"""Shared steps of the engine's tests: leads made ready, a sequence loaded, a clock to move."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from outreach.kernel import DiscoveredBusiness
from outreach.kernel.runtime import Runtime
from outreach.kernel.store.tables import LeadRow

#: A two-step sequence: a first email (text and HTML) and a follow-up two business days later.
SEQUENCE = """
name = "intro"
description = "first email and one follow-up"

[[steps]]
subject = "A question for {{ business_name }}"
body = \"\"\"Hi {{ first_name | default("there") }},

{{ first_line }}

Ann\"\"\"
html = "<p>Hi {{ first_name | default('there') }},</p><p>{{ first_line }}</p>"
delay_days = 0

[[steps]]
body = "Just following up on my note about {{ business_name }}."
delay_days = 2
business_days = true
"""

#: One email, no follow-up.
ONE_STEP = """
name = "intro"
[[steps]]
subject = "Hello {{ business_name }}"
body = "Hi {{ first_name | default('there') }}, {{ first_line }}"
"""

#: Sending policy that never makes a test wait: any hour, any day, no gap, no rate limit.
OPEN_POLICY: dict[str, Any] = {
    "window": "00:00-24:00",
    "weekdays_only": False,
    "min_gap_seconds": 0,
    "daily_cap": 10_000,
}


#: A config file (``data_dir`` to fill in) with one mailbox on the open policy and no rate limit,
#: for tests that run the command line.
CONFIG = """
data_dir = "{data}"
[[mailboxes]]
name = "main"
from_address = "Ann Example <ann@main.example>"
window = "00:00-24:00"
weekdays_only = false
min_gap_seconds = 0
[sending]
rate_limit_per_minute = 0
"""


def mailbox(name: str = "main", **extra: Any) -> dict[str, Any]:
    """A ``[[mailboxes]]`` entry with the open policy."""
    return {"name": name, "from_address": f"Ann Example <ann@{name}.example>", **OPEN_POLICY, **extra}


class Clock:
    """A clock the test moves; the runtime asks it what time it is."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # a Monday

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


async def ready_leads(rt: Runtime, count: int, **fields: Any) -> list[int]:
    """``count`` leads with addresses, moved to ready_for_outreach; their ids."""
    ids = []
    for i in range(count):
        values = {
            "business_name": f"Business {i}",
            "email": f"owner{i}@lead{i}.example",
            "city": "Springfield",
        }
        values.update({k: (v(i) if callable(v) else v) for k, v in fields.items()})
        lead, _ = await rt.leads.upsert_discovered(DiscoveredBusiness(**values), "test")
        ids.append(lead.id)
    await LeadRow.update({LeadRow.lifecycle_state: "approved"}).where(LeadRow.id.is_in(ids))
    result = await rt.enrollment.mark_ready(ids, actor="test")
    assert sorted(result.changed) == sorted(i for i in ids if i not in result.skipped)
    return ids


async def enrolled(rt: Runtime, count: int, sequence: str = SEQUENCE, **fields: Any) -> dict[int, int]:
    """``count`` ready leads enrolled in ``sequence``: lead id -> first email id."""
    await rt.sequences.load_text(sequence, actor="test")
    ids = await ready_leads(rt, count, **fields)
    result = await rt.enrollment.enroll("intro", ids, actor="test")
    assert result.skipped == {}
    return result.enrolled


#: What the compliance checks ask before a sender of real mail sends anything: who sends,
#: the sender's postal address, and an https address recipients reach for the links.
LEGAL: dict[str, Any] = {
    "compliance": {"sender_name": "Ann Example", "physical_address": "1 Main St, Springfield, IL 62701"},
    "web": {"public_url": "https://outreach.example"},
}
#: The same, as TOML for a config file.
LEGAL_TOML = """
[compliance]
sender_name = "Ann Example"
physical_address = "1 Main St, Springfield, IL 62701"

[web]
public_url = "https://outreach.example"
"""


def with_legal(make_settings: Callable[..., Any]) -> Callable[..., Any]:
    """``make_settings`` with :data:`LEGAL` filled in where a test sets nothing else."""

    def make(**raw: Any) -> Any:
        for key, value in LEGAL.items():
            raw[key] = {**value, **raw.get(key, {})}
        return make_settings(**raw)

    return make
