"""The built-in compliance plugin: unsubscribe headers and footer, the CAN-SPAM identity, the GDPR
notice on first emails, real mail held back until the settings are complete, suppression."""

from __future__ import annotations

import email
from email import policy

import msgspec
from engine_helpers import LEGAL, Clock, enrolled, mailbox

from outreach.kernel import ComplianceContext, OutgoingMessage, SendReceipt, compliance_problems, hookimpl
from outreach.kernel.config import MailboxSettings, parse_settings
from outreach.kernel.services.outbox.dry_run import explain
from outreach.kernel.services.outbox.planner import plan
from outreach.kernel.services.outbox.worker import RoundStats
from outreach.plugins.compliance.footer import RIGHT_TO_OBJECT


class Courier:
    """A throwaway sender of real mail (it does not set ``delivers = False``)."""

    name = "courier"

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        self.sent.append(message)
        return SendReceipt(message_id=message.message_id)


class CourierPlugin:
    def __init__(self) -> None:
        self.sender = Courier()

    @hookimpl
    def register_senders(self, register) -> None:
        register(self.sender)


def parsed_outbox(data_dir) -> dict[str, email.message.EmailMessage]:
    messages = [
        email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in (data_dir / "outbox").glob("*.eml")
    ]
    return {str(m["Message-ID"]): m for m in messages}


async def test_every_message_carries_unsubscribe_headers_and_the_legal_footer(
    make_settings, make_runtime, data_dir
) -> None:
    rt = await make_runtime(
        make_settings(
            mailboxes=[mailbox(reply_to="replies@main.example")],
            sending={"rate_limit_per_minute": 0},
            **LEGAL,
        )
    )
    clock = Clock()
    rt.clock = clock
    firsts = await enrolled(rt, 1)
    await rt.outbox.run_until_idle()
    clock.advance(days=3)
    await rt.outbox.run_until_idle()
    emails = await rt.emails.for_lead(next(iter(firsts)))
    messages = parsed_outbox(data_dir)
    first, follow = (messages[e.message_id] for e in emails)
    for message in (first, follow):
        link, mailto = message["List-Unsubscribe"].split(", ")
        assert link.startswith("<https://outreach.example/u/")
        assert mailto == "<mailto:replies@main.example?subject=unsubscribe>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert "Ann Example · 1 Main St, Springfield, IL 62701" in text
        assert f"Unsubscribe: {link.strip('<>')}" in text
    # The right to object is brought to the person's attention in the first email only.
    assert RIGHT_TO_OBJECT in first.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "right to object" in first.get_body(("html",)).get_content()
    assert RIGHT_TO_OBJECT not in follow.get_content().replace("\r\n", "\n")
    html = first.get_body(("html",)).get_content()
    assert "1 Main St, Springfield, IL 62701" in html
    assert "Unsubscribe</a> from these emails" in html


async def test_real_mail_waits_for_the_legal_settings_while_the_outbox_still_works(
    make_settings, make_runtime, data_dir
) -> None:
    courier = CourierPlugin()
    rt = await make_runtime(
        make_settings(
            mailboxes=[mailbox(), mailbox("drafts", backend="outbox")],
            sender={"backend": "courier"},
            sending={"rate_limit_per_minute": 0},
        ),
        extra_plugins=[("courier", courier)],
    )
    rt.clock = Clock()
    firsts = await enrolled(rt, 4)
    report = await explain(rt)
    held = [item for item in report.items if item.mailbox == "main"]
    assert {item.action for item in held} == {"defer"}
    assert "sender_name is not set" in held[0].reason
    assert "physical_address is not set" in held[0].reason
    assert "public_url must be the https address" in held[0].reason
    stats = await rt.outbox.run_until_idle()
    assert courier.sender.sent == []
    assert stats.sent == 2  # the two emails of the outbox mailbox
    assert len(list((data_dir / "outbox").glob("*.eml"))) == 2
    waiting = [await rt.emails.get(i) for i in firsts.values()]
    held_back = [e for e in waiting if e.mailbox == "main"]
    assert [e.state for e in held_back] == ["queued", "queued"]
    assert all("Compliance page" in (e.last_error or "") for e in held_back)


def test_what_is_missing_is_said_in_sentences() -> None:
    settings = parse_settings({}, source="test")
    problems = compliance_problems(settings)
    assert len(problems) == 3
    assert "http://127.0.0.1:8000" in problems[2]
    local = parse_settings({**LEGAL, "web": {"public_url": "https://127.0.0.1:8443"}}, source="test")
    assert "points at this machine" in compliance_problems(local)[0]
    private = parse_settings({**LEGAL, "web": {"public_url": "https://192.168.1.20"}}, source="test")
    assert "private network" in compliance_problems(private)[0]
    plain = parse_settings({**LEGAL, "web": {"public_url": "http://outreach.example"}}, source="test")
    assert "https" in compliance_problems(plain)[0]
    assert compliance_problems(parse_settings(dict(LEGAL), source="test")) == []
    default = parse_settings(dict(LEGAL), source="test")
    problems = compliance_problems(
        default, [MailboxSettings(name="default", from_address="outreach <outreach@localhost>")]
    )
    assert problems == [
        "Mailbox 'default' sends from 'outreach <outreach@localhost>', which is not a real address; "
        "add a [[mailboxes]] entry with your own from_address."
    ]


async def test_links_to_this_machine_are_refused_for_real_mail(make_settings, make_runtime) -> None:
    courier = CourierPlugin()
    rt = await make_runtime(
        make_settings(
            mailboxes=[mailbox()],
            sender={"backend": "courier"},
            sending={"rate_limit_per_minute": 0},
            compliance=LEGAL["compliance"],
            web={"public_url": "http://127.0.0.1:8000"},
        ),
        extra_plugins=[("courier", courier)],
    )
    rt.clock = Clock()
    await enrolled(rt, 1)
    (item,) = (await explain(rt)).items
    assert item.action == "defer"
    assert "public_url must be the https address" in item.reason
    assert (await rt.outbox.run_until_idle()).sent == 0
    assert courier.sender.sent == []


async def test_complete_settings_let_real_mail_go(make_settings, make_runtime) -> None:
    courier = CourierPlugin()
    rt = await make_runtime(
        make_settings(
            mailboxes=[mailbox()],
            sender={"backend": "courier"},
            sending={"rate_limit_per_minute": 0},
            **LEGAL,
        ),
        extra_plugins=[("courier", courier)],
    )
    rt.clock = Clock()
    await enrolled(rt, 2)
    assert (await rt.outbox.run_until_idle()).sent == 2
    assert all(
        m.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for m in courier.sender.sent
    )


async def test_an_address_suppressed_after_planning_is_not_claimed(make_settings, make_runtime) -> None:
    courier = CourierPlugin()
    rt = await make_runtime(
        make_settings(
            mailboxes=[mailbox()],
            sender={"backend": "courier"},
            sending={"rate_limit_per_minute": 0},
            **LEGAL,
        ),
        extra_plugins=[("courier", courier)],
    )
    rt.clock = Clock()
    firsts = await enrolled(rt, 2)
    current = await plan(rt, limit=10)
    assert len(current.of("send")) == 2
    victim = await rt.emails.get(min(firsts.values()))
    await rt.suppressions.add(victim.to_address, reason="unsubscribed", actor="test")
    claimed = await rt.outbox._apply(current, RoundStats())
    assert [e.id for e in claimed] == [max(firsts.values())]
    assert (await rt.emails.get(victim.id)).state == "queued"
    # The next round cancels it: it never reaches the sender.
    await rt.outbox.run_until_idle()
    assert (await rt.emails.get(victim.id)).state == "cancelled"
    assert victim.to_address not in [m.to_address for m in courier.sender.sent]


async def test_the_suppression_check_blocks_a_suppressed_recipient(make_settings, make_runtime) -> None:
    rt = await make_runtime(make_settings(**LEGAL))
    check = rt.plugins.compliance_checks.get("suppression")
    message = OutgoingMessage(
        email_id=1,
        message_id="<m@x>",
        from_address="a@main.example",
        to_address="Gone@Lead.example",
        subject="",
        text="",
    )
    assert (await check.check(message, ComplianceContext())).action == "allow"
    await rt.suppressions.add("gone@lead.example", actor="test")
    verdict = await check.check(message, ComplianceContext())
    assert (verdict.action, verdict.reason) == ("block", "the address is on the suppression list")
    # Within a planning round the planner's answer is used, without asking the store again.
    assert (await check.check(message, ComplianceContext(suppressed=False))).action == "allow"
    other = msgspec.structs.replace(message, to_address="fresh@lead.example")
    assert (await check.check(other, ComplianceContext(suppressed=True))).action == "block"
    assert rt.plugins.compliance_checks.names()[-4:] == ["suppression", "identity", "tracking", "unsubscribe"]
