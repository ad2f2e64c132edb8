"""Opens and clicks: signed tokens, the pixel and the redirect through the app, proxies and scanners
flagged, and the HTML rewritten only where tracking is on."""

from __future__ import annotations

import email
import re
from datetime import timedelta
from email import policy
from html import unescape
from urllib.parse import unquote

import pytest
from engine_helpers import Clock, enrolled, mailbox
from litestar.testing import AsyncTestClient

from outreach.kernel import TRACKING_KEY, read_token, sign_token
from outreach.kernel.services import audit, deliveries
from outreach.kernel.services.tracking_agents import agent_reason, flag_reason
from outreach.kernel.store.tables import EmailRow, TrackingEventRow
from outreach.web import create_app

KEY = b"k" * 32
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
#: The HTML of the sequence's first step, with links of every kind.
LINKS_SEQUENCE = """
name = "intro"
[[steps]]
subject = "Hello {{ business_name }}"
body = "Hi, see https://ann.example/offer"
html = '''<html><body><p>Hi, see <a href="https://ann.example/offer?a=1&amp;b=2">our offer</a>, <a href='http://ann.example/plain'>plain</a>, <a href="mailto:ann@main.example">mail</a>, <a href="#top">top</a>.</p></body></html>'''
"""


def test_tokens_are_signed_for_one_email_and_one_purpose() -> None:
    token = sign_token(KEY, "open", 42)
    assert read_token(KEY, "open", token) == 42
    assert read_token(KEY, "click", token) is None  # another purpose
    assert read_token(b"x" * 32, "open", token) is None  # another key
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert read_token(KEY, "open", altered) is None
    assert read_token(KEY, "open", sign_token(KEY, "open", 43)) == 43
    for junk in ("", "%%%", "a" * 100, "AAAA"):
        assert read_token(KEY, "open", junk) is None
    link = sign_token(KEY, "click", 7, "https://a.example/x")
    assert read_token(KEY, "click", link, "https://a.example/x") == 7
    assert read_token(KEY, "click", link, "https://evil.example/x") is None
    assert "42" not in token
    assert len(token) < 40


@pytest.mark.parametrize(
    ("agent", "reason"),
    [
        (
            "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
            "Gmail image proxy",
        ),
        ("YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", "Yahoo image proxy"),
        ("Mozilla/5.0", "Apple Mail Privacy Protection"),
        ("Mozilla/5.0 (compatible; Barracuda Sentinel)", "security scanner"),
        ("Mozilla/5.0 (compatible; Mimecast URL protect)", "security scanner"),
        ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "link preview"),
        ("python-requests/2.32.3", "script or crawler"),
        ("curl/8.5.0", "script or crawler"),
        ("", "no user agent"),
        (BROWSER, None),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
            None,
        ),
        ("Microsoft Outlook 16.0.17928; Pro", None),
    ],
)
def test_user_agents_of_proxies_and_scanners_are_recognized(agent: str, reason: str | None) -> None:
    assert agent_reason(agent) == reason


def test_an_open_seconds_after_sending_is_a_scanner() -> None:
    clock = Clock()
    assert flag_reason(BROWSER, clock.now - timedelta(seconds=3), clock.now, 10) == "3s after sending"
    assert flag_reason(BROWSER, clock.now - timedelta(minutes=5), clock.now, 10) is None
    assert flag_reason(BROWSER, None, clock.now, 10) == "before the email was sent"


async def sent_with_links(make_settings, make_runtime, data_dir, **box):
    rt = await make_runtime(
        make_settings(
            mailboxes=[mailbox(**box)],
            sending={"rate_limit_per_minute": 0},
            web={"public_url": "https://outreach.example"},
        )
    )
    clock = Clock()
    rt.clock = clock
    firsts = await enrolled(rt, 1, sequence=LINKS_SEQUENCE)
    assert (await rt.outbox.run_until_idle()).sent == 1
    email_id = next(iter(firsts.values()))
    (eml,) = (data_dir / "outbox").glob("*.eml")
    return rt, clock, email_id, email.message_from_bytes(eml.read_bytes(), policy=policy.default)


async def test_html_gets_a_pixel_and_tracked_links_and_the_text_stays_as_written(
    make_settings, make_runtime, data_dir
) -> None:
    rt, _clock, email_id, parsed = await sent_with_links(make_settings, make_runtime, data_dir)
    html = parsed.get_body(("html",)).get_content()
    text = parsed.get_body(("plain",)).get_content()
    key = rt.plugins.context.signing_key(TRACKING_KEY)
    pixel = re.search(r'<img src="https://outreach\.example/t/o/([^"]+)"', html)
    assert pixel
    assert read_token(key, "open", pixel.group(1)) == email_id
    assert html.index(pixel.group(0)) < html.index("</body>")
    hrefs = [unescape(h) for h in re.findall(r'href="([^"]+)"', html)]
    tracked = [h for h in hrefs if h.startswith("https://outreach.example/t/c/")]
    assert len(tracked) == 2
    first = re.match(r"https://outreach\.example/t/c/([^?]+)\?u=(.+)$", tracked[0])
    assert unquote(first.group(2)) == "https://ann.example/offer?a=1&b=2"
    assert read_token(key, "click", first.group(1), unquote(first.group(2))) == email_id
    assert "mailto:ann@main.example" in hrefs
    assert "#top" in hrefs
    # The unsubscribe link is never wrapped, and the text part keeps its links.
    assert any(h.startswith("https://outreach.example/u/") for h in hrefs)
    assert "Hi, see https://ann.example/offer" in text
    assert "/t/" not in text


async def test_tracking_off_leaves_the_html_alone(make_settings, make_runtime, data_dir) -> None:
    _rt, _clock, _email_id, parsed = await sent_with_links(
        make_settings, make_runtime, data_dir, tracking=False
    )
    html = parsed.get_body(("html",)).get_content()
    assert "/t/o/" not in html
    assert "/t/c/" not in html
    assert 'href="https://ann.example/offer?a=1&amp;b=2"' in html


async def test_the_pixel_and_the_redirect_record_people_and_flag_machines(
    make_settings, make_runtime, data_dir
) -> None:
    rt, clock, email_id, parsed = await sent_with_links(make_settings, make_runtime, data_dir)
    html = parsed.get_body(("html",)).get_content()
    pixel = re.search(r'src="https://outreach\.example(/t/o/[^"]+)"', html).group(1)
    click = unescape(re.search(r'href="https://outreach\.example(/t/c/[^"]+)"', html).group(1))
    async with AsyncTestClient(app=create_app(rt)) as client:
        # A scanner at the receiving server, seconds after the send: recorded, not counted.
        clock.advance(seconds=2)
        scanned = await client.get(click, headers={"User-Agent": BROWSER}, follow_redirects=False)
        assert scanned.status_code == 302
        assert scanned.headers["location"] == "https://ann.example/offer?a=1&b=2"
        clock.advance(minutes=30)
        proxy = await client.get(
            pixel, headers={"User-Agent": "Mozilla/5.0 (via ggpht.com GoogleImageProxy)"}
        )
        assert proxy.status_code == 200
        assert proxy.headers["content-type"] == "image/gif"
        assert proxy.content.startswith(b"GIF89a")
        assert "no-store" in proxy.headers["cache-control"]
        assert (await rt.emails.get(email_id)).state == "sent"
        # A person.
        person = await client.get(pixel, headers={"User-Agent": BROWSER})
        assert person.status_code == 200
        assert (await rt.emails.get(email_id)).state == "opened"
        await client.get(click, headers={"User-Agent": BROWSER}, follow_redirects=False)
    events = await rt.tracking.events([email_id])
    assert [(e.kind, e.flagged, e.flag_reason) for e in events] == [
        ("click", True, "2s after sending"),
        ("open", True, "Gmail image proxy"),
        ("open", False, None),
        ("click", False, None),
    ]
    assert events[-1].url == "https://ann.example/offer?a=1&b=2"
    trail = await audit.trail("email", email_id)
    assert trail[-1].action == "transition:sent->opened"
    assert trail[-1].actor == "system:tracking"
    # Later the delivery window passes: an opened email stays opened.
    clock.advance(days=3)
    assert await deliveries.mark_delivered(rt) == []


async def test_forged_or_altered_tokens_get_404_and_change_nothing(
    make_settings, make_runtime, data_dir
) -> None:
    rt, clock, email_id, parsed = await sent_with_links(make_settings, make_runtime, data_dir)
    html = parsed.get_body(("html",)).get_content()
    pixel = re.search(r'src="https://outreach\.example(/t/o/[^"]+)"', html).group(1)
    click = unescape(re.search(r'href="https://outreach\.example(/t/c/[^"]+)"', html).group(1))
    clock.advance(hours=1)
    other = sign_token(b"not the key" * 3, "open", email_id)
    async with AsyncTestClient(app=create_app(rt)) as client:
        for path in (
            f"/t/o/{other}",
            pixel[:-2] + ("xx" if not pixel.endswith("xx") else "yy"),
            click.replace("offer", "0ffer"),  # the signed link changed
            click.split("?")[0] + "?u=https://evil.example/",
            click.split("?")[0],
            "/t/o/" + "A" * 30,
            "/t/c/x?u=https://evil.example/",
        ):
            answer = await client.get(path, headers={"User-Agent": BROWSER}, follow_redirects=False)
            assert answer.status_code == 404, path
            assert "location" not in answer.headers
            assert "outreach" not in answer.text.lower()
    assert await TrackingEventRow.count() == 0
    assert (await rt.emails.get(email_id)).state == "sent"


async def test_sent_becomes_delivered_when_no_bounce_came_back_in_time(make_settings, make_runtime) -> None:
    rt = await make_runtime(
        make_settings(
            mailboxes=[mailbox()], sending={"rate_limit_per_minute": 0}, tracking={"delivered_after_hours": 6}
        )
    )
    clock = Clock()
    rt.clock = clock
    firsts = await enrolled(rt, 3)
    await rt.outbox.run_until_idle()
    ids = sorted(firsts.values())
    await EmailRow.update({EmailRow.state: "bounced"}).where(EmailRow.id == ids[2])
    clock.advance(hours=5)
    assert await deliveries.mark_delivered(rt) == []
    clock.advance(hours=2)
    assert await deliveries.mark_delivered(rt) == ids[:2]
    assert [(await rt.emails.get(i)).state for i in ids] == ["delivered", "delivered", "bounced"]
    trail = await audit.trail("email", ids[0])
    assert (trail[-1].action, trail[-1].actor) == ("transition:sent->delivered", "system:delivery")
    assert await deliveries.mark_delivered(rt) == []
