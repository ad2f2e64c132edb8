"""Deal stages after outreach: interested, meeting, won, lost. The moves the lead machine allows and
refuses, the buttons of a reply's page (each move audited as the web's), the Leads filter, the
dashboard funnel, and ``outreach leads set-state`` from a real process."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from engine_helpers import Clock, enrolled, mailbox, ready_leads
from inbound_helpers import reply
from litestar.testing import AsyncTestClient

from outreach.kernel import InboundMessage
from outreach.kernel.errors import IllegalTransition
from outreach.kernel.services import audit, stats
from outreach.kernel.states import DEAL_STATES, LEAD_MACHINE, LeadState, deal_moves, review_status
from outreach.kernel.store.tables import LeadRow
from outreach.web import create_app

L = LeadState

#: Written out from the design, independently of the table in states.py.
DEAL_MOVES = {
    (L.READY_FOR_OUTREACH, L.INTERESTED),
    (L.READY_FOR_OUTREACH, L.MEETING),
    (L.READY_FOR_OUTREACH, L.WON),
    (L.READY_FOR_OUTREACH, L.LOST),
    (L.INTERESTED, L.MEETING),
    (L.INTERESTED, L.WON),
    (L.INTERESTED, L.LOST),
    (L.MEETING, L.WON),
    (L.MEETING, L.LOST),
    (L.LOST, L.INTERESTED),
}


def _csrf(html: str) -> str:
    return re.search(r'"x-csrftoken": "([^"]+)"', html).group(1)


async def _lead_in(rt, state: str) -> int:
    [lead_id] = await ready_leads(rt, 1)
    await LeadRow.update({LeadRow.lifecycle_state: state}).where(LeadRow.id == lead_id)
    return lead_id


def test_the_deal_moves_are_exactly_the_design() -> None:
    touching = {(a, b) for a, b in LEAD_MACHINE.allowed if a in DEAL_STATES or b in DEAL_STATES}
    assert touching == DEAL_MOVES
    assert deal_moves(L.READY_FOR_OUTREACH) == ["interested", "meeting", "won", "lost"]
    assert deal_moves(L.INTERESTED) == ["meeting", "won", "lost"]
    assert deal_moves(L.WON) == []
    assert deal_moves(L.PENDING_REVIEW) == []
    assert {review_status(state) for state in DEAL_STATES} == {"approved"}


@pytest.mark.parametrize(("old", "new"), sorted(DEAL_MOVES))
async def test_each_deal_move_applies_with_its_audit_row(runtime, old, new) -> None:
    lead_id = await _lead_in(runtime, old)
    moved = await runtime.leads.transition(lead_id, new, actor="tester", reason="it said so")
    assert moved.lifecycle_state == new
    trail = await audit.trail("lead", lead_id)
    assert (trail[-1].action, trail[-1].actor) == (f"transition:{old}->{new}", "tester")
    assert trail[-1].new_value == {"lifecycle_state": new, "reason": "it said so"}


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (L.PENDING_REVIEW, L.INTERESTED),
        (L.APPROVED, L.WON),
        (L.DISCOVERED, L.MEETING),
        (L.WON, L.LOST),
        (L.WON, L.INTERESTED),
        (L.MEETING, L.INTERESTED),
        (L.LOST, L.WON),
        (L.INTERESTED, L.READY_FOR_OUTREACH),
        (L.INTERESTED, L.PENDING_REVIEW),
    ],
)
async def test_moves_outside_the_design_are_refused_and_change_nothing(runtime, old, new) -> None:
    lead_id = await _lead_in(runtime, old)
    before = await audit.count("lead", lead_id)
    with pytest.raises(IllegalTransition, match=f"'{old}' to '{new}'"):
        await runtime.leads.transition(lead_id, new, actor="tester")
    assert (await runtime.leads.get(lead_id)).lifecycle_state == old
    assert await audit.count("lead", lead_id) == before


async def test_an_interested_reply_moves_its_lead_through_the_stages_from_its_page(
    make_settings, make_runtime
) -> None:
    rt = await make_runtime(make_settings(mailboxes=[mailbox()], sending={"rate_limit_per_minute": 0}))
    rt.clock = Clock()
    firsts = await enrolled(rt, 2)
    await rt.outbox.run_until_idle()
    first, second = [await rt.emails.get(firsts[lead]) for lead in sorted(firsts)]
    interested = await rt.inbound.process(
        InboundMessage(raw=reply(first, "Yes, I'm interested. Call me."), source="imap:main")
    )
    assert interested.category == "interested"
    lead_id = first.lead_id

    async with AsyncTestClient(app=create_app(rt)) as client:
        page = await client.get(f"/replies/{interested.id}")
        assert re.search(r'data-stage="interested" class="primary">Move to interested</button>', page.text)
        headers = {"HX-Request": "true", "x-csrftoken": _csrf(page.text)}

        async def move(stage: str, **extra: str):
            return await client.post(
                f"/replies/{interested.id}/stage", data={"stage": stage, **extra}, headers=headers
            )

        to_interested = await move("interested")
        assert to_interested.status_code == 200
        assert "<h1>" not in to_interested.text  # the deal panel only
        assert 'id="deal-moved">Moved to interested' in to_interested.text
        assert 'data-lead-state="interested"' in to_interested.text
        offered = re.findall(r'data-stage="(\w+)"', to_interested.text)
        assert offered == ["meeting", "won", "lost"]
        version = (await rt.leads.get(lead_id)).version
        assert (await move("meeting", version=str(version))).status_code == 200
        assert (await move("won")).status_code == 200
        assert (await rt.leads.get(lead_id)).lifecycle_state == "won"

        # From won there is nowhere to go: refused in words, the lead stays won.
        refused = await move("lost")
        assert refused.status_code == 409
        assert refused.headers["HX-Retarget"] == "#flash"
        assert "A lead cannot go from &#39;won&#39; to &#39;lost&#39;" in refused.text
        stale = await client.post(
            f"/replies/{interested.id}/stage",
            data={"stage": "meeting", "version": str(version)},
            headers=headers,
        )
        assert stale.status_code == 409
        assert "changed by someone else" in stale.text
        assert (await move("teleported")).status_code == 422
        assert (await rt.leads.get(lead_id)).lifecycle_state == "won"

        trail = [e for e in await audit.trail("lead", lead_id) if e.action.startswith("transition:")]
        assert [(e.action, e.actor) for e in trail[-3:]] == [
            ("transition:ready_for_outreach->interested", "web"),
            ("transition:interested->meeting", "web"),
            ("transition:meeting->won", "web"),
        ]
        assert trail[-1].new_value["reason"] == f"on the page of reply {interested.id}"

        # The Leads page offers the stages in its filter and finds the lead by them.
        leads_page = await client.get("/leads")
        for stage in DEAL_STATES:
            assert f'<option value="{stage}">{stage}</option>' in leads_page.text
        won = await client.get("/leads?state=won", headers={"HX-Request": "true"})
        assert f'id="lead-{lead_id}"' in won.text
        assert f'id="lead-{second.lead_id}"' not in won.text
        assert (
            f'id="lead-{lead_id}"'
            not in (await client.get("/leads?state=interested", headers={"HX-Request": "true"})).text
        )
        # The JSON API filters by them too.
        listed = await client.get("/api/v1/leads?state=won")
        assert [lead["id"] for lead in listed.json()["items"]] == [lead_id]

    # On the dashboard a won lead was approved and sent to, like the one still in outreach.
    funnel = {step.name: step.count for step in await stats.funnel()}
    assert (funnel["approved"], funnel["sent"], funnel["replied"]) == (2, 2, 1)


def _cli(data_dir, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "outreach.web.cli", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_set_state_from_the_command_line_accepts_the_stages(runtime, data_dir) -> None:
    [lead_id] = await ready_leads(runtime, 1)
    moved = _cli(data_dir, "leads", "set-state", str(lead_id), "interested", "--reason", "phoned back")
    assert moved.returncode == 0, moved.stderr
    assert f"Lead {lead_id} is now interested." in moved.stdout
    refused = _cli(data_dir, "leads", "set-state", str(lead_id), "pending_review")
    assert refused.returncode == 1
    assert "'interested'" in refused.stderr
    assert "'pending_review'" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _cli(data_dir, "leads", "set-state", str(lead_id), "lost").returncode == 0
    listed = json.loads(_cli(data_dir, "leads", "list", "--state", "lost", "--json").stdout)
    assert [lead["id"] for lead in listed] == [lead_id]
    trail = await audit.trail("lead", lead_id)
    assert [(e.action, e.actor) for e in trail[-2:]] == [
        ("transition:ready_for_outreach->interested", "cli"),
        ("transition:interested->lost", "cli"),
    ]
    assert trail[-2].new_value["reason"] == "phoned back"


async def test_the_lead_panel_moves_a_lead_through_the_stages(runtime) -> None:
    [lead_id] = await ready_leads(runtime, 1)
    async with AsyncTestClient(app=create_app(runtime)) as client:
        panel = await client.get(f"/leads/{lead_id}", headers={"HX-Request": "true"})
        assert re.findall(r'data-stage="(\w+)"', panel.text) == ["interested", "meeting", "won", "lost"]
        headers = {"HX-Request": "true", "x-csrftoken": _csrf((await client.get("/leads")).text)}
        version = (await runtime.leads.get(lead_id)).version
        moved = await client.post(
            f"/leads/{lead_id}/deal/interested", data={"version": str(version)}, headers=headers
        )
        assert moved.status_code == 200
        assert moved.text.lstrip().startswith(f'<article class="lead-detail" id="lead-detail-{lead_id}"')
        assert '<span class="state state-interested">interested</span>' in moved.text
        assert re.findall(r'data-stage="(\w+)"', moved.text) == ["meeting", "won", "lost"]
        assert (await client.post(f"/leads/{lead_id}/deal/lost", headers=headers)).status_code == 200
        back = await client.post(f"/leads/{lead_id}/deal/interested", headers=headers)
        assert re.findall(r'data-stage="(\w+)"', back.text) == ["meeting", "won", "lost"]
        assert (await client.post(f"/leads/{lead_id}/deal/won", headers=headers)).status_code == 200
        done = await client.post(f"/leads/{lead_id}/deal/lost", headers=headers)
        assert done.status_code == 409
        assert "cannot go from &#39;won&#39; to &#39;lost&#39;" in done.text
        assert (await client.post(f"/leads/{lead_id}/deal/approved", headers=headers)).status_code == 422
        won_panel = await client.get(f"/leads/{lead_id}", headers={"HX-Request": "true"})
        assert "The deal is won." in won_panel.text
    trail = [e for e in await audit.trail("lead", lead_id) if e.action.startswith("transition:")]
    assert [(e.action, e.actor, e.new_value["reason"]) for e in trail[-4:]] == [
        ("transition:ready_for_outreach->interested", "web", "on the lead's panel"),
        ("transition:interested->lost", "web", "on the lead's panel"),
        ("transition:lost->interested", "web", "on the lead's panel"),
        ("transition:interested->won", "web", "on the lead's panel"),
    ]
