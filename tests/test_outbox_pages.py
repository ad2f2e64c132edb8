"""The Outbox page through Litestar's test client: business names, what each email waits for, Send now,
the stranded emails of a mailbox gone and moving them, cancelling that says the sequence stops, and one
email's exact message and history (HTML only in a sandbox, files of the outbox sender said to be files)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from engine_helpers import Clock, enrolled, mailbox, with_legal
from litestar.testing import AsyncTestClient

from outreach.kernel import OutgoingMessage, SendReceipt, hookimpl
from outreach.kernel.store.tables import EmailRow, EnrollmentRow, LeadRow
from outreach.web import create_app

HX = {"HX-Request": "true"}
#: Sunday night in Chicago: its 09:00-17:00 window is closed.
SUNDAY_NIGHT = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


class Keeper:
    """A sender that delivers (in the test's memory)."""

    name = "keeper"

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        self.sent.append(message)
        return SendReceipt(message_id=message.message_id, detail="kept")


class KeeperPlugin:
    def __init__(self) -> None:
        self.sender = Keeper()

    @hookimpl
    def register_senders(self, register) -> None:
        register(self.sender)


@pytest.fixture
async def rt(make_settings, make_runtime):
    settings = with_legal(make_settings)(
        mailboxes=[
            mailbox(window="09:00-17:00", weekdays_only=True, timezone="America/Chicago"),
            mailbox("spare"),
            mailbox("kept", backend="keeper"),
        ],
        sending={"rate_limit_per_minute": 0},
    )
    runtime = await make_runtime(settings, extra_plugins=[("keeper", KeeperPlugin())])
    runtime.clock = Clock(SUNDAY_NIGHT)
    return runtime


@pytest.fixture
async def client(rt):
    async with AsyncTestClient(app=create_app(rt)) as client:
        page = (await client.get("/outbox")).text
        client.headers["x-csrftoken"] = re.search(r'"x-csrftoken": "([^"]+)"', page).group(1)
        yield client


async def _queued(rt, count: int, mailbox_name: str = "main", **fields) -> list[int]:
    """``count`` enrolled leads whose first email is in ``mailbox_name``, to Chicago; the email ids."""
    ids = sorted((await enrolled(rt, count, **fields)).values())
    await EmailRow.update(
        {EmailRow.mailbox: mailbox_name, EmailRow.recipient_timezone: "America/Chicago"}
    ).where(EmailRow.id.is_in(ids))
    return ids


async def test_rows_name_the_business_and_say_what_each_email_waits_for(client, rt) -> None:
    ids = await _queued(rt, 2, business_name=lambda i: f"<b>Dental {i}</b>")
    await rt.outbox.run_until_idle()  # deferred to the window's opening
    page = await client.get("/outbox")
    html = page.text
    lead_id = (await rt.emails.get(ids[0])).lead_id
    assert f'<a href="/leads/{lead_id}">&lt;b&gt;Dental 0&lt;/b&gt;</a>' in html
    assert f"lead {lead_id}<" not in html
    row = re.search(rf'<tr id="email-{ids[0]}".*?</tr>', html, re.S).group(0)
    assert 'data-hold="window"' in row
    assert (
        "waits until 2026-11-23 15:00 UTC: outside the sending window (09:00-17:00 in America/Chicago)" in row
    )
    assert f'hx-post="/outbox/{ids[0]}/send-now"' in row
    assert f'href="/outbox/{ids[0]}"' in row

    # Retry on a waiting email explains the wait in the flash, and changes nothing.
    refused = await client.post(f"/outbox/{ids[0]}/retry", headers=HX)
    assert refused.status_code == 409
    assert refused.headers["hx-retarget"] == "#flash"
    assert (
        "is queued, not failed: it waits until 2026-11-23 15:00 UTC because outside the sending"
        in refused.text
    )

    # Send now answers with the row and a sentence; the email goes past the closed window.
    sent_now = await client.post(f"/outbox/{ids[0]}/send-now", headers=HX)
    assert sent_now.status_code == 200
    assert f'<tr id="email-{ids[0]}" data-state="queued" data-hold="due"' in sent_now.text
    assert '<div id="flash" hx-swap-oob="innerHTML">' in sent_now.text
    assert "is due now, no longer waiting because outside the sending window" in sent_now.text
    assert (await rt.outbox.run_until_idle()).sent == 1
    assert (await rt.emails.get(ids[0])).state == "sent"
    assert (await rt.emails.get(ids[1])).state == "queued"


async def test_cancel_says_the_sequence_stops(client, rt) -> None:
    (email_id,) = await _queued(rt, 1)
    cancelled = await client.post(f"/outbox/{email_id}/cancel", headers=HX)
    assert 'data-state="cancelled"' in cancelled.text
    assert "The lead&#39;s sequence (intro) stops too" in cancelled.text
    page = (await client.get("/outbox?state=queued")).text
    assert "No emails in this state." in page


async def test_stranded_emails_are_listed_and_moved_in_one_action(client, rt) -> None:
    ids = await _queued(rt, 3, mailbox_name="old")
    leads = [r["lead"] for r in await EmailRow.select(EmailRow.lead).where(EmailRow.id.is_in(ids))]
    await EnrollmentRow.update({EnrollmentRow.mailbox: "old"}).where(EnrollmentRow.lead.is_in(leads))
    page = (await client.get("/outbox")).text
    section = re.search(r'<section class="attention" id="stranded">.*?</section>', page, re.S).group(0)
    assert "Stranded in mailbox 'old'" in section
    assert "because mailbox &#39;old&#39; is not in the config any more" in section
    for email_id in ids:
        assert f'name="ids" value="{email_id}"' in section
    assert '<option value="spare">spare</option>' in section
    assert 'name="_csrf_token"' in section  # works without JavaScript too

    ticked = await client.post(
        "/outbox/move",
        data={"from": "old", "to": "spare", "which": "selected", "ids": [str(ids[0])]},
        headers=HX,
    )
    assert ticked.status_code == 200
    assert "<html" not in ticked.text
    assert "Moved 1 email from &#39;old&#39; to &#39;spare&#39;" in ticked.text
    assert f'name="ids" value="{ids[0]}"' not in ticked.text
    assert (await rt.emails.get(ids[0])).mailbox == "spare"
    nothing = await client.post(
        "/outbox/move", data={"from": "old", "to": "spare", "which": "selected"}, headers=HX
    )
    assert nothing.status_code == 422
    assert "No email is ticked" in nothing.text

    everything = await client.post("/outbox/move", data={"from": "old", "to": "main", "which": "all"})
    assert everything.status_code == 200
    assert everything.text.startswith("<!doctype html>")
    assert "Moved 2 emails from &#39;old&#39; to &#39;main&#39;" in everything.text
    assert await rt.mailboxes.stranded() == {}
    enrollments = await EnrollmentRow.select(EnrollmentRow.mailbox).where(EnrollmentRow.lead.is_in(leads))
    assert sorted(r["mailbox"] for r in enrollments) == ["main", "main", "spare"]
    unknown = await client.post("/outbox/move", data={"from": "old", "to": "nowhere"}, headers=HX)
    assert unknown.status_code == 422
    assert "There is no mailbox named &#39;nowhere&#39;" in unknown.text


async def test_a_queued_email_shows_its_stored_message_and_history(client, rt) -> None:
    (email_id,) = await _queued(rt, 1)
    await LeadRow.update({LeadRow.business_name: "Acme"}).where(LeadRow.id > 0)
    email = await rt.emails.get(email_id)
    await EmailRow.update({EmailRow.body_html: '<p>Hi</p><script>alert("x")</script>'}).where(
        EmailRow.id == email_id
    )
    page = await client.get(f"/outbox/{email_id}")
    assert page.status_code == 200
    html = page.text
    assert html.startswith("<!doctype html>")
    assert f'<a href="/leads/{email.lead_id}">Acme</a>' in html
    assert 'data-source="stored"' in html
    assert "Not sent yet: the List-Unsubscribe headers" in html
    for header in ("From", "To", "Subject", "Message-ID"):
        assert f'<th scope="row">{header}</th>' in html
    assert email.message_id.replace("<", "&lt;").replace(">", "&gt;") in html
    assert email.to_address in html  # the person's own screen; never in a log
    # The HTML part only ever appears escaped: in the sandboxed iframe's srcdoc and as source.
    assert '<script>alert("x")</script>' not in html
    assert 'sandbox srcdoc="&lt;p&gt;Hi&lt;/p&gt;&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"' in html
    history = re.search(r'<section id="email-history">.*?</section>', html, re.S).group(0)
    assert 'data-action="queued"' in history
    assert "<td>test</td>" in history
    fragment = await client.get(f"/outbox/{email_id}", headers=HX)
    assert fragment.text.lstrip().startswith('<article class="email-detail"')
    missing = await client.get("/outbox/999999")
    assert missing.status_code == 404
    assert "There is no email with id 999999" in missing.text


async def test_emails_of_the_outbox_sender_are_files_not_sent_mail(client, rt, data_dir) -> None:
    rt.clock.now = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # the window is open
    (email_id,) = await _queued(rt, 1)
    assert (await rt.outbox.run_until_idle()).sent == 1
    email = await rt.emails.get(email_id)
    (eml,) = (data_dir / "outbox").glob("*.eml")
    assert email.provider_message_id == str(eml)
    row = re.search(rf'<tr id="email-{email_id}".*?</tr>', (await client.get("/outbox")).text, re.S).group(0)
    assert "written to a file" in row
    assert str(eml) in row
    assert ">sent<" not in row
    detail = (await client.get(f"/outbox/{email_id}")).text
    assert 'data-source="file"' in detail
    assert f"Written to a file, not sent to anyone: {eml}" in detail
    assert '<th scope="row">List-Unsubscribe-Post</th><td>List-Unsubscribe=One-Click</td>' in detail
    assert "Unsubscribe: https://outreach.example/" in detail
    assert 'data-action="transition:sending-&gt;sent"' in detail


async def test_a_sent_email_is_rebuilt_the_way_its_sender_built_it(client, rt) -> None:
    rt.clock.now = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    (email_id,) = await _queued(rt, 1, mailbox_name="kept")
    assert (await rt.outbox.run_until_idle()).sent == 1
    (sent,) = rt.plugins.senders.get("keeper").sent
    detail = (await client.get(f"/outbox/{email_id}")).text
    assert 'data-source="rebuilt"' in detail
    assert "Sent through keeper" in detail
    unsubscribe = sent.headers["List-Unsubscribe"]
    assert (
        f'<th scope="row">List-Unsubscribe</th><td>{unsubscribe.replace("<", "&lt;").replace(">", "&gt;")}</td>'
        in detail
    )
    assert "Mon, 23 Nov 2026 16:00:00 +0000" in detail
    row = re.search(rf'<tr id="email-{email_id}".*?</tr>', (await client.get("/outbox")).text, re.S).group(0)
    assert '<span class="state state-sent">sent</span>' in row
    assert "written to a file" not in row
