"""The pages of tracking and compliance: the replies inbox by category with each thread, the
suppression list (add, remove with an audit row), the compliance page, the dashboard's counts."""

from __future__ import annotations

import re

from engine_helpers import LEGAL, Clock, enrolled, mailbox
from inbound_helpers import corpus, dsn, reply, vacation
from litestar.testing import AsyncTestClient

from outreach.kernel import InboundMessage
from outreach.kernel.services import audit
from outreach.web import create_app

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def _csrf(html: str) -> str:
    return re.search(r'"x-csrftoken": "([^"]+)"', html).group(1)


async def inbox(make_settings, make_runtime, **settings):
    rt = await make_runtime(
        make_settings(mailboxes=[mailbox()], sending={"rate_limit_per_minute": 0}, **settings)
    )
    clock = Clock()
    rt.clock = clock
    firsts = await enrolled(rt, 4)
    await rt.outbox.run_until_idle()
    emails = [await rt.emails.get(firsts[lead]) for lead in sorted(firsts)]
    for raw in (
        reply(emails[0], "Yes, I'm interested <b>really</b>. Call me."),
        vacation(emails[1], "December 14, 2026"),
        dsn(emails[2], status="5.1.1", diagnostic="550 5.1.1 User unknown"),
        corpus("replies/talon__gmail.eml"),
    ):
        await rt.inbound.process(InboundMessage(raw=raw, source="imap:main"))
    return rt, clock, emails


async def test_the_inbox_lists_by_category_and_shows_each_thread(make_settings, make_runtime) -> None:
    rt, _clock, emails = await inbox(make_settings, make_runtime)
    async with AsyncTestClient(app=create_app(rt)) as client:
        page = await client.get("/replies")
        assert page.status_code == 200
        assert '<a href="/replies" aria-current="page">Replies</a>' in page.text  # the nav entry
        assert page.text.count('<tr id="inbound-') == 4
        assert 'data-category="interested">interested <span class="count">1</span>' in page.text
        assert "&lt;b&gt;really" not in page.text  # bodies are not on the list
        interested = await client.get("/replies?category=interested", headers={"HX-Request": "true"})
        assert "<h1>" not in interested.text  # the fragment only
        assert interested.text.count('<tr id="inbound-') == 1
        bounces = await client.get("/replies?kind=bounce", headers={"HX-Request": "true"})
        assert 'data-kind="bounce"' in bounces.text
        assert "(hard)" in bounces.text
        inbound_id = int(re.search(r'<tr id="inbound-(\d+)"', interested.text).group(1))

        thread = await client.get(f"/replies/{inbound_id}")
        assert thread.status_code == 200
        assert "We wrote" in thread.text
        assert emails[0].subject in thread.text
        assert "Yes, I&#39;m interested &lt;b&gt;really&lt;/b&gt;. Call me." in thread.text
        assert "<b>really</b>" not in thread.text
        assert f'href="/leads/{emails[0].lead_id}"' in thread.text
        assert (await client.get("/replies/999")).status_code == 404


async def test_the_suppression_list_adds_and_removes_with_audit_rows(make_settings, make_runtime) -> None:
    rt = await make_runtime(make_settings())
    async with AsyncTestClient(app=create_app(rt)) as client:
        token = _csrf((await client.get("/suppressions")).text)
        headers = {"HX-Request": "true", "x-csrftoken": token}
        added = await client.post(
            "/suppressions", data={"email": "Stop@Me.example", "reason": "complained"}, headers=headers
        )
        assert added.status_code == 200
        assert "Stop@Me.example is suppressed (complained)" in added.text
        bad = await client.post("/suppressions", data={"email": "not an address"}, headers=headers)
        assert bad.status_code == 422
        (entry,) = (await rt.suppressions.list()).items
        assert f'hx-post="/suppressions/{entry.id}/remove"' in added.text
        removed = await client.post(f"/suppressions/{entry.id}/remove", headers=headers)
        assert removed.status_code == 200
        assert removed.text == ""
    assert not await rt.suppressions.is_suppressed("stop@me.example")
    trail = await audit.trail("suppression", entry.id)
    assert [(t.action, t.actor) for t in trail] == [("added", "web"), ("removed", "web")]
    assert trail[1].old_value["email"] == "[redacted]"


async def test_an_erased_address_cannot_be_taken_off_the_list(make_settings, make_runtime) -> None:
    rt = await make_runtime(make_settings())
    from outreach.kernel.services import gdpr

    await gdpr.erase_data(rt, address="gone@lead.example", actor="test")
    (entry,) = (await rt.suppressions.list()).items
    assert entry.email is None
    async with AsyncTestClient(app=create_app(rt)) as client:
        page = await client.get("/suppressions")
        assert "erased (kept as a keyed hash)" in page.text
        answer = await client.post(
            f"/suppressions/{entry.id}/remove",
            headers={"HX-Request": "true", "x-csrftoken": _csrf(page.text)},
        )
        assert answer.status_code == 422
    assert await rt.suppressions.is_suppressed("gone@lead.example")


async def test_the_compliance_page_and_the_dashboard_say_what_is_missing(make_settings, make_runtime) -> None:
    rt = await make_runtime(make_settings(mailboxes=[mailbox(tracking=False)]))
    async with AsyncTestClient(app=create_app(rt)) as client:
        page = await client.get("/compliance")
        assert 'id="compliance-missing"' in page.text
        assert "sender_name is not set" in page.text
        assert "physical_address is not set" in page.text
        assert "public_url must be the https address" in page.text
        assert "opens and clicks not tracked" in page.text
        dashboard = await client.get("/")
        assert 'id="compliance-warning"' in dashboard.text
        assert "3 settings the law asks for are missing" in dashboard.text
        settings = await client.get("/settings")
        assert 'href="/compliance"' in settings.text

    ready = await make_runtime(
        make_settings(data_dir=str(rt.settings.data_path / "ready"), mailboxes=[mailbox()], **LEGAL)
    )
    async with AsyncTestClient(app=create_app(ready)) as client:
        page = await client.get("/compliance")
        assert 'id="compliance-ready"' in page.text
        assert "1 Main St, Springfield, IL 62701" in page.text
        assert 'id="compliance-warning"' not in (await client.get("/")).text


async def test_the_dashboard_counts_opens_clicks_replies_and_bounces(make_settings, make_runtime) -> None:
    rt, clock, emails = await inbox(
        make_settings, make_runtime, web={"public_url": "https://outreach.example"}
    )
    clock.advance(hours=2)
    await rt.tracking.record("open", emails[0].id, user_agent=BROWSER)
    await rt.tracking.record("click", emails[3].id, user_agent=BROWSER, url="https://ann.example/")
    await rt.tracking.record("open", emails[3].id, user_agent="Mozilla/5.0 (via ggpht.com GoogleImageProxy)")
    async with AsyncTestClient(app=create_app(rt)) as client:
        live = await client.get("/", headers={"HX-Request": "true"})
    counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', live.text))
    assert counts == {"sent": "4", "opened": "2", "clicked": "1", "replied": "1", "bounced": "1"}
    assert "1 request from image proxies and scanners" in live.text
