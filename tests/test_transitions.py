"""Transition services against a real store (SQLite and PostgreSQL): versioned, audited, events after commit."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outreach.kernel import DiscoveredBusiness, hookimpl
from outreach.kernel.errors import ConcurrentUpdate, IllegalTransition
from outreach.kernel.services import audit
from outreach.kernel.states import LEAD_MACHINE, LeadState
from outreach.kernel.store.engine import write_transaction
from outreach.kernel.store.tables import EmailRow, LeadRow

# The state machines as the store applies them, on SQLite and on PostgreSQL alike.
pytestmark = pytest.mark.both_engines

L = LeadState


async def _lead(rt, name: str = "Acme Dental", state: str | None = None):
    lead, _ = await rt.leads.upsert_discovered(
        DiscoveredBusiness(
            business_name=name, website_url=f"https://{name.replace(' ', '').lower()}.example"
        ),
        "test",
    )
    if state is not None:
        await LeadRow.update({LeadRow.lifecycle_state: state}).where(LeadRow.id == lead.id)
        lead = await rt.leads.get(lead.id)
    return lead


class Recorder:
    """A plugin that records lead events."""

    def __init__(self) -> None:
        self.events: list[tuple[int, str, str, str]] = []

    @hookimpl
    def lead_transitioned(self, lead, old_state, new_state, actor) -> None:
        self.events.append((lead.id, old_state, new_state, actor))


@pytest.mark.parametrize(("old", "new"), sorted(LEAD_MACHINE.allowed))
async def test_every_allowed_lead_transition_applies(runtime, old, new) -> None:
    lead = await _lead(runtime, state=old)
    moved = await runtime.leads.transition(lead.id, new, actor="tester")
    assert moved.lifecycle_state == new
    assert moved.version == lead.version + 1
    trail = await audit.trail("lead", lead.id)
    assert trail[-1].action == f"transition:{old}->{new}"
    assert trail[-1].actor == "tester"
    assert trail[-1].old_value == {"lifecycle_state": old}


async def test_illegal_transition_changes_nothing(runtime) -> None:
    lead = await _lead(runtime)
    before = await audit.count("lead", lead.id)
    with pytest.raises(IllegalTransition, match="'discovered' to 'approved'"):
        await runtime.leads.transition(lead.id, L.APPROVED, actor="tester")
    after = await runtime.leads.get(lead.id)
    assert after.lifecycle_state == L.DISCOVERED
    assert after.version == lead.version
    assert await audit.count("lead", lead.id) == before


async def test_stale_version_is_a_concurrent_update(runtime) -> None:
    lead = await _lead(runtime, state=L.PENDING_REVIEW)
    await runtime.leads.transition(lead.id, L.APPROVED, actor="a", expected_version=lead.version)
    with pytest.raises(ConcurrentUpdate):
        await runtime.leads.transition(lead.id, L.PENDING_REVIEW, actor="b", expected_version=lead.version)


async def test_events_fire_after_commit_with_actor(settings, make_runtime) -> None:
    recorder = Recorder()
    rt = await make_runtime(settings, extra_plugins=[("recorder", recorder)])
    lead = await _lead(rt, state=L.PENDING_REVIEW)
    await rt.leads.transition(lead.id, L.REJECTED, actor="web")
    assert recorder.events == [(lead.id, "pending_review", "rejected", "web")]


async def test_a_failing_event_plugin_does_not_undo_the_change(settings, make_runtime) -> None:
    class Broken:
        @hookimpl
        def lead_transitioned(self, lead, old_state, new_state, actor) -> None:
            raise RuntimeError("webhook down")

    rt = await make_runtime(settings, extra_plugins=[("broken", Broken())])
    lead = await _lead(rt, state=L.PENDING_REVIEW)
    await rt.leads.transition(lead.id, L.APPROVED, actor="web")
    assert (await rt.leads.get(lead.id)).lifecycle_state == L.APPROVED


async def test_two_concurrent_transitions_exactly_one_wins(runtime) -> None:
    lead = await _lead(runtime, state=L.PENDING_REVIEW)
    results = await asyncio.gather(
        runtime.leads.transition(lead.id, L.APPROVED, actor="a", expected_version=lead.version),
        runtime.leads.transition(lead.id, L.REJECTED, actor="b", expected_version=lead.version),
        return_exceptions=True,
    )
    wins = [r for r in results if not isinstance(r, Exception)]
    losses = [r for r in results if isinstance(r, Exception)]
    assert len(wins) == 1
    assert len(losses) == 1
    assert isinstance(losses[0], ConcurrentUpdate | IllegalTransition)
    final = await runtime.leads.get(lead.id)
    assert final.lifecycle_state == wins[0].lifecycle_state
    assert final.version == lead.version + 1
    assert await audit.count("lead", lead.id) == 2  # discovered + the one transition


async def test_concurrent_transitions_without_versions_serialize(runtime) -> None:
    """Many writers at once on one SQLite file: no 'database is locked', one winner."""
    lead = await _lead(runtime, state=L.PENDING_REVIEW)
    results = await asyncio.gather(
        *(runtime.leads.transition(lead.id, L.APPROVED, actor=f"w{i}") for i in range(8)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, IllegalTransition) for r in results if isinstance(r, Exception))


async def test_undo_refused_once_an_email_exists(runtime) -> None:
    lead = await _lead(runtime, state=L.APPROVED)
    async with write_transaction():
        await EmailRow.insert(EmailRow(lead=lead.id, dedupe_key=f"{lead.id}:1:1", state="sent"))
    with pytest.raises(IllegalTransition):
        await runtime.leads.transition(lead.id, L.PENDING_REVIEW, actor="web")
    result = await runtime.leads.transition_many([lead.id], L.PENDING_REVIEW, actor="web")
    assert result.changed == []
    assert "outbox" in result.skipped[lead.id]


async def test_bulk_transition_moves_only_movable_leads(runtime) -> None:
    pending = [await _lead(runtime, f"Pending {i}", L.PENDING_REVIEW) for i in range(5)]
    other = await _lead(runtime, "Just Found")
    result = await runtime.leads.transition_many(
        [lead.id for lead in pending] + [other.id, 9999], L.APPROVED, actor="web"
    )
    assert sorted(result.changed) == sorted(lead.id for lead in pending)
    assert "discovered" in result.skipped[other.id]
    assert result.skipped[9999] == "no such lead"
    for lead in pending:
        moved = await runtime.leads.get(lead.id)
        assert moved.lifecycle_state == L.APPROVED
        assert moved.version == lead.version + 1
        assert (await audit.trail("lead", lead.id))[-1].action == "transition:pending_review->approved"


# Random walks through the machine: the audit log has one row per applied transition.
_targets = st.lists(st.sampled_from(sorted(LeadState)), min_size=1, max_size=25)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(targets=_targets)
async def test_random_walk_audits_every_applied_transition(runtime, targets) -> None:
    lead = await _lead(runtime, f"Walker {len(targets)} {hash(tuple(targets))}")
    before = await audit.count("lead", lead.id)
    applied = 0
    state = lead.lifecycle_state
    for target in targets:
        try:
            moved = await runtime.leads.transition(lead.id, target, actor="walker")
        except IllegalTransition:
            assert (state, target) not in LEAD_MACHINE.allowed
            continue
        assert (state, target) in LEAD_MACHINE.allowed
        state = moved.lifecycle_state
        applied += 1
    assert await audit.count("lead", lead.id) - before == applied
    assert (await runtime.leads.get(lead.id)).version == lead.version + applied


async def test_email_events_fire_after_commit(settings, make_runtime) -> None:
    class EmailRecorder:
        def __init__(self) -> None:
            self.events: list[tuple[int, str, str, str]] = []

        @hookimpl
        def email_transitioned(self, email, old_state, new_state, actor) -> None:
            self.events.append((email.id, old_state, new_state, actor))

    recorder = EmailRecorder()
    rt = await make_runtime(settings, extra_plugins=[("email_recorder", recorder)])
    lead = await _lead(rt)
    async with write_transaction():
        (row,) = await EmailRow.insert(
            EmailRow(lead=lead.id, dedupe_key=f"{lead.id}:9:1", state="queued")
        ).returning(EmailRow.id)
    await rt.emails.transition(row["id"], "cancelled", actor="web")
    assert recorder.events == [(row["id"], "queued", "cancelled", "web")]
