"""A/B variants of sequence steps: loading and checking them, sharing leads out by weight, follow-ups
that keep the variant's thread, stopping a variant, and the figures per step and variant, checked
against what an SMTP server received and what the test did to those messages."""

from __future__ import annotations

import json
import re
from collections import Counter
from html import unescape

import pytest
from engine_helpers import Clock, mailbox, ready_leads, with_legal
from inbound_helpers import dsn, reply
from litestar.testing import AsyncTestClient
from mail_servers import Sink, SinkHandler
from test_cli import outreach

from outreach.kernel import InboundMessage
from outreach.kernel.errors import NotFound, SequenceError, TemplateError
from outreach.kernel.services import audit, variants
from outreach.kernel.services.sequence_stats import compare, sequence_figures, two_proportion_p_value
from outreach.kernel.store.tables import EmailRow
from outreach.web import create_app

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"

AB = """
name = "ab"

[[steps]]
subject = "A question for {{ business_name }}"
body = "Hi {{ first_name | default('there') }}, a question about {{ business_name }}."
html = "<p>Hi, a question about {{ business_name }}. <a href=\\"https://ann.example/offer\\">Our offer</a></p>"

[[steps.variants]]
name = "question"

[[steps.variants]]
name = "short"
subject = "{{ business_name }}?"

[[steps]]
body = "Following up on my question."
delay_days = 2

[[steps.variants]]
name = "short"
body = "Any thoughts?"

[[steps.variants]]
name = "other"
body = "Just checking in."
"""


def weighted(a: float, b: float) -> str:
    return f"""
name = "weighted"
[[steps]]
subject = "Hello {{{{ business_name }}}}"
body = "Hello."
[[steps.variants]]
body = "Hello from A."
weight = {a}
[[steps.variants]]
body = "Hello from B."
weight = {b}
"""


@pytest.fixture
def make_settings(make_settings):
    return with_legal(make_settings)


@pytest.fixture
async def sink():
    server = await Sink(SinkHandler()).start()
    yield server
    await server.stop()


async def smtp_runtime(make_settings, make_runtime, sink):
    rt = await make_runtime(
        make_settings(
            sender={"backend": "smtp", "smtp": {"host": "127.0.0.1", "port": sink.port, "timeout": 5}},
            mailboxes=[mailbox()],
            sending={"rate_limit_per_minute": 0},
            # The test bounces a few on purpose; the mailbox must not pause for it.
            plugins={"reputation": {"max_bounce_rate": 0.5}},
        )
    )
    rt.clock = Clock()
    return rt


# -- the file ------------------------------------------------------------------------------------


async def test_variants_load_with_names_weights_and_the_steps_text_where_they_have_none(runtime) -> None:
    sequence, _ = await runtime.sequences.load_text(AB, actor="test")
    first, second = sequence.steps
    assert [v.name for v in first.variants] == ["question", "short"]
    question, short = first.variants
    assert question.subject == "A question for {{ business_name }}"  # the step's
    assert short.subject == "{{ business_name }}?"
    assert short.body_text == first.body_text
    assert short.body_html == first.body_html
    assert [v.body_text for v in second.variants] == ["Any thoughts?", "Just checking in."]
    assert second.variants[0].body_html is None  # its own text, not the step's HTML
    loaded = await runtime.sequences.find("ab")
    assert [v.weight for v in loaded.steps[0].variants] == [1.0, 1.0]
    unnamed, _ = await runtime.sequences.load_text(weighted(1, 3), actor="test")
    assert [(v.name, v.weight) for v in unnamed.steps[0].variants] == [("A", 1.0), ("B", 3.0)]


@pytest.mark.parametrize(
    ("variants", "problem"),
    [
        (
            '[[steps.variants]]\nname = "x"\n[[steps.variants]]\nname = "x"',
            "two variants of one step have this name",
        ),
        ('[[steps.variants]]\nweight = 0\nsubject = "s"\nbody = "b"', "the weight must be above 0"),
        ('[[steps.variants]]\nbody = "b"', "needs a subject"),
        ('[[steps.variants]]\nsubject = "s"\nbody = "{{ business_name"', "variant 'A'"),
        ('[[steps.variants]]\nsubject = "s"\nbody = "b"\ntemplate = "nope"', "which does not exist"),
    ],
)
async def test_a_bad_variant_is_refused_with_the_step_and_variant_named(runtime, variants, problem) -> None:
    text = f'name = "bad"\n[[steps]]\n{variants}\n'
    with pytest.raises(TemplateError) as caught:
        await runtime.sequences.load_text(text, actor="test")
    assert problem in str(caught.value)
    assert "Step 1" in str(caught.value)
    with pytest.raises(NotFound):
        await runtime.sequences.find("bad")


# -- sharing out ---------------------------------------------------------------------------------


async def test_leads_are_shared_out_by_weight_over_several_enrollments(runtime) -> None:
    await runtime.sequences.load_text(weighted(1, 3), actor="test")
    ids = await ready_leads(runtime, 300)
    first = await runtime.enrollment.enroll("weighted", ids[:101], actor="test")
    second = await runtime.enrollment.enroll("weighted", ids[101:], actor="test")
    assert len(first.enrolled) + len(second.enrolled) == 300
    rows = await EmailRow.select(EmailRow.variant, EmailRow.body_text, EmailRow.lead)
    split = Counter(r["variant"] for r in rows)
    # Weights 1:3 of 300 leads: 75 and 225, give or take one per enrollment.
    assert abs(split["A"] - 75) <= 2
    assert abs(split["B"] - 225) <= 2
    # Each email carries its variant's own text: what was previewed is what is sent.
    assert all(r["body_text"] == f"Hello from {r['variant']}." for r in rows)
    # The audit row of each queued email names its variant.
    first = await EmailRow.select(EmailRow.id, EmailRow.variant).order_by(EmailRow.id).first()
    trail = await audit.trail("email", first["id"])
    assert trail[0].new_value["variant"] == first["variant"]


async def test_a_stopped_variant_gets_no_new_leads_and_stays_stopped_when_reloaded(runtime) -> None:
    sequence, _ = await runtime.sequences.load_text(weighted(1, 1), actor="test")
    ids = await ready_leads(runtime, 40)
    await runtime.enrollment.enroll("weighted", ids[:20], actor="test")
    await variants.set_stopped(sequence, 1, "A", True, actor="person@example")
    with pytest.raises(SequenceError, match="last one of step 1"):
        await variants.set_stopped(await runtime.sequences.find("weighted"), 1, "B", True, actor="test")
    with pytest.raises(NotFound, match="has no variant 'Z'"):
        await variants.set_stopped(sequence, 1, "Z", True, actor="test")
    await runtime.sequences.load_text(weighted(1, 1), actor="test")  # the same file again
    reloaded = await runtime.sequences.find("weighted")
    assert [v.stopped for v in reloaded.steps[0].variants] == [True, False]
    await runtime.enrollment.enroll("weighted", ids[20:], actor="test")
    rows = await EmailRow.select(EmailRow.lead, EmailRow.variant)
    later = Counter(r["variant"] for r in rows if r["lead"] in ids[20:])
    assert later == {"B": 20}
    trail = await audit.trail("sequence", sequence.id)
    stopped = next(e for e in trail if e.action == "variant_stopped")
    assert stopped.actor == "person@example"
    assert stopped.new_value == {"step": 1, "variant": "A", "stopped": True}
    await variants.set_stopped(reloaded, 1, "A", False, actor="test")
    assert not (await runtime.sequences.find("weighted")).steps[0].variants[0].stopped


# -- sending, follow-ups and the figures ---------------------------------------------------------


def _path(url: str) -> str:
    return re.sub(r"^https://outreach\.example", "", unescape(url))


async def test_two_variants_sent_tracked_and_counted_as_the_server_and_the_database_saw_them(
    make_settings, make_runtime, sink
) -> None:
    rt = await smtp_runtime(make_settings, make_runtime, sink)
    await rt.sequences.load_text(AB, actor="test")
    ids = await ready_leads(rt, 200)
    result = await rt.enrollment.enroll("ab", ids, actor="test")
    assert len(result.enrolled) == 200
    assert (await rt.outbox.run_until_idle()).sent == 200

    # What the server received, by variant (the subjects differ): an even split.
    by_variant: dict[str, list] = {"question": [], "short": []}
    for item in sink.handler.received:
        subject = str(item.message["Subject"])
        by_variant["short" if subject.endswith("?") else "question"].append(item.message)
    assert {name: len(messages) for name, messages in by_variant.items()} == {"question": 100, "short": 100}

    # What recipients do, decided from the messages as received.
    plan = {
        "question": {"open": 30, "click": 8, "reply": 12, "bounce": 5, "unsubscribe": 3},
        "short": {"open": 15, "click": 2, "reply": 2, "bounce": 2, "unsubscribe": 1},
    }
    emails = {e.message_id: e for e in [await rt.emails.get(i) for i in result.enrolled.values()]}
    rt.clock.advance(minutes=30)  # long after any scanner
    async with AsyncTestClient(app=create_app(rt)) as client:
        for name, messages in by_variant.items():
            todo = plan[name]
            for index, message in enumerate(sorted(messages, key=lambda m: str(m["To"]))):
                html = message.get_body(("html",)).get_content()
                email = emails[str(message["Message-ID"])]
                if index < todo["open"]:
                    pixel = re.search(r'src="(https://outreach\.example/t/o/[^"]+)"', html).group(1)
                    assert (
                        await client.get(_path(pixel), headers={"User-Agent": BROWSER})
                    ).status_code == 200
                    # A scanner's open of the same email is recorded and not counted twice.
                    await client.get(_path(pixel), headers={"User-Agent": "GoogleImageProxy"})
                if index < todo["click"]:
                    link = re.search(r'href="(https://outreach\.example/t/c/[^"]+)"', html).group(1)
                    clicked = await client.get(
                        _path(link), headers={"User-Agent": BROWSER}, follow_redirects=False
                    )
                    assert clicked.status_code == 302
                start = todo["open"]
                if start <= index < start + todo["reply"]:
                    await rt.inbound.process(
                        InboundMessage(raw=reply(email, "Yes, tell me more."), source="test")
                    )
                start += todo["reply"]
                if start <= index < start + todo["bounce"]:
                    raw = dsn(email, status="5.1.1", diagnostic="550 5.1.1 <x>: Recipient address rejected")
                    await rt.inbound.process(InboundMessage(raw=raw, source="test"))
                start += todo["bounce"]
                if start <= index < start + todo["unsubscribe"]:
                    target = re.match(r"<(https://[^>]+)>", message["List-Unsubscribe"]).group(1)
                    answer = await client.post(
                        _path(target),
                        content=b"List-Unsubscribe=One-Click",
                        headers={"Content-Type": "application/x-www-form-urlencoded"},
                    )
                    assert answer.status_code == 200

    # The database, counted on its own.
    rows = await EmailRow.select(EmailRow.variant, EmailRow.state, EmailRow.unsubscribed_at).where(
        EmailRow.step_number == 1
    )
    db = {
        name: {
            "bounced": sum(1 for r in rows if r["variant"] == name and r["state"] == "bounced"),
            "replied": sum(
                1 for r in rows if r["variant"] == name and r["state"] in ("replied", "categorized")
            ),
            "unsubscribed": sum(1 for r in rows if r["variant"] == name and r["unsubscribed_at"] is not None),
        }
        for name in plan
    }
    figures = await sequence_figures(await rt.sequences.find("ab"))
    step_one = {row.variant: row for row in figures.steps[0].variants}
    for name, todo in plan.items():
        row = step_one[name]
        assert row.sent == len(by_variant[name]) == 100
        assert row.opened == todo["open"]
        assert row.clicked == todo["click"]
        assert row.replied == todo["reply"] == db[name]["replied"]
        assert row.bounced == todo["bounce"] == db[name]["bounced"]
        assert row.unsubscribed == todo["unsubscribe"] == db[name]["unsubscribed"]
        assert row.delivered == 100 - todo["bounce"]
        assert row.rates["replied"] == pytest.approx(todo["reply"] / 100)
    comparison = figures.steps[0].comparison
    assert comparison.verdict == "significant"
    assert (comparison.leader, comparison.runner_up) == ("question", "short")
    assert comparison.p_value == pytest.approx(two_proportion_p_value(12, 100, 2, 100))

    # Two days on, the follow-ups: each in its own thread, on the same line where step 2 has it.
    sink.handler.received.clear()
    rt.clock.advance(days=2, hours=1)
    sent = (await rt.outbox.run_until_idle()).sent
    stopped = sum(plan[name][k] for name in plan for k in ("reply", "bounce", "unsubscribe"))
    assert sent == 200 - stopped
    firsts = {e.message_id: e for e in emails.values()}
    for item in sink.handler.received:
        first = firsts[str(item.message["In-Reply-To"])]
        assert str(item.message["Subject"]) == f"Re: {first.subject}"
        text = item.message.get_body(("plain",)).get_content()
        if first.variant == "short":  # step 2 has a "short" too: the lead stays on that line
            assert text.startswith("Any thoughts?")
        else:  # no "question" at step 2: chosen by weight
            assert text.startswith(("Any thoughts?", "Just checking in."))
    step_two = {
        row.variant: row.sent
        for row in (await sequence_figures(await rt.sequences.find("ab"))).steps[1].variants
    }
    assert sum(step_two.values()) == 200 - stopped
    short_left = 100 - sum(plan["short"][k] for k in ("reply", "bounce", "unsubscribe"))
    assert step_two["short"] >= short_left  # every "short" lead still in the sequence
    assert step_two["other"] > 0


def test_the_two_proportion_test_and_its_verdicts() -> None:
    # 30 of 100 against 10 of 100: z = 3.54, p = 0.0004 (a textbook case).
    assert two_proportion_p_value(30, 100, 10, 100) == pytest.approx(0.000407, abs=1e-5)
    assert two_proportion_p_value(0, 100, 0, 100) is None
    assert two_proportion_p_value(1, 0, 1, 10) is None

    from outreach.kernel.services.sequence_stats import VariantFigures

    def row(name, sent, replied):
        return VariantFigures(
            variant=name, sent=sent, replied=replied, rates={"replied": replied / sent if sent else 0}
        )

    assert compare([row("a", 20, 5), row("b", 40, 1)]).verdict == "not enough data yet"
    assert "'a' has 20" in compare([row("a", 20, 5), row("b", 40, 1)]).explanation
    assert compare([row("a", 50, 6), row("b", 50, 5)]).verdict == "not significant"
    assert compare([row("a", 100, 0), row("b", 100, 0)]).verdict == "not enough data yet"
    assert compare([row("b", 100, 2), row("a", 100, 12)]).leader == "a"


# -- the command line and the page ---------------------------------------------------------------


async def test_stats_and_stop_variant_on_the_command_line(runtime, data_dir) -> None:
    await runtime.sequences.load_text(AB, actor="test")
    ids = await ready_leads(runtime, 6)
    await runtime.enrollment.enroll("ab", ids, actor="test")

    def run_cli(args: list[str]):
        return outreach(data_dir, *args, check=False)

    shown = run_cli(["sequences", "stats", "ab", "--json"])
    assert shown.returncode == 0, shown.stderr
    figures = json.loads(shown.stdout)
    step = figures["steps"][0]
    assert [v["variant"] for v in step["variants"]] == ["question", "short"]
    assert all(v["sent"] == 0 for v in step["variants"])  # queued, not sent
    assert step["comparison"]["verdict"] == "not enough data yet"
    text = run_cli(["sequences", "stats", "ab"])
    assert "not enough data yet" in text.stdout
    assert "question" in text.stdout
    stop = run_cli(["sequences", "stop-variant", "ab", "1", "short"])
    assert stop.returncode == 0, stop.stderr
    assert "is stopped" in stop.stdout
    again = run_cli(["sequences", "stop-variant", "ab", "1", "question"])
    assert again.returncode != 0
    assert "last one of step 1" in again.stderr
    preview = run_cli(["sequences", "preview", "ab", str(ids[0]), "--variant", "short"])
    assert preview.returncode == 0, preview.stderr
    assert preview.stdout.startswith("Subject: Business 0?")
    assert run_cli(["sequences", "resume-variant", "ab", "1", "short"]).returncode == 0


async def test_the_sequence_page_shows_each_variant_and_stops_one_in_place(runtime) -> None:
    sequence, _ = await runtime.sequences.load_text(AB, actor="test")
    await ready_leads(runtime, 2)
    async with AsyncTestClient(app=create_app(runtime)) as client:
        page = await client.get(f"/sequences/{sequence.id}")
        assert page.status_code == 200
        assert "Step 1 · variant short" in page.text
        assert "Step 2 · variant other" in page.text
        assert "Business 1?" in page.text or "Business 0?" in page.text  # the short subject, rendered
        assert 'id="figures"' in page.text
        token = re.search(r'"x-csrftoken": "([^"]+)"', page.text).group(1)
        answer = await client.post(
            f"/sequences/{sequence.id}/variants/stop",
            data={"step": "1", "variant": "short"},
            headers={"HX-Request": "true", "x-csrftoken": token},
        )
        assert answer.status_code == 200
        assert "<html" not in answer.text  # only the block
        assert 'data-variant="short"' in answer.text
        assert re.search(r'class="variant stopped" data-variant="short"', answer.text)
        refused = await client.post(
            f"/sequences/{sequence.id}/variants/stop",
            data={"step": "1", "variant": "question"},
            headers={"HX-Request": "true", "x-csrftoken": token},
        )
        assert "last one of step 1" in refused.text
    assert [v.stopped for v in (await runtime.sequences.find("ab")).steps[0].variants] == [False, True]
