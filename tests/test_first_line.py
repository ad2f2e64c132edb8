"""The ``first_line`` enricher: a model of the llm library writes the opening line, checked for facts.

The models are real llm models, registered through llm's own plugin manager
(:mod:`tests.llm_fake_model`); llm keeps its files in a temporary directory.
"""

from __future__ import annotations

import re
import sys
import time
from typing import Any

import llm
import pytest
from litestar.testing import AsyncTestClient
from llm_fake_model import FakeModels

from outreach.kernel import ConfigError, DiscoveredBusiness, Enrichment, hookimpl
from outreach.kernel.plugins import build_plugin_host
from outreach.kernel.services import audit
from outreach.kernel.services.analysis import submit_analysis
from outreach.kernel.templating import TemplateSource, render_template, template_context
from outreach.plugins.first_line import FirstLineOptions
from outreach.plugins.first_line.facts import build_prompt
from outreach.plugins.first_line.grounding import judge
from outreach.web import create_app

HX = {"HX-Request": "true"}
BESIDE_THE_TABLE = {**HX, "HX-Current-URL": "http://testserver.local/leads?state=pending_review"}
OTHER_ENRICHERS = ["website", "email_check", "scoring"]
SITE = {
    "reachable": True,
    "title": "Acme Dental | Home",
    "headline": "Gentle dentistry for the whole family",
    "description": "Family dentist in Springfield offering cleanings, crowns and Invisalign since 1998.",
}
GOOD = "Your gentle family dentistry in Springfield, with cleanings, crowns and Invisalign, caught my eye."
PLAIN = 'I came across Acme Dental and liked how you put it: "Family dentist in Springfield offering cleanings, crowns and Invisalign since 1998".'


class SiteFacts:
    """A throwaway plugin whose ``website`` enricher reports what the real one stores."""

    name, order = "website", 10

    @hookimpl
    def register_enrichers(self, register) -> None:
        register(self)

    async def enrich(self, lead) -> Enrichment:
        return Enrichment(data=dict(SITE), confidence=0.9, source="test")


@pytest.fixture
def models(tmp_path, monkeypatch) -> Any:
    """The fake models, registered in llm for this test only; llm's files in a temporary directory."""
    monkeypatch.setenv("LLM_USER_PATH", str(tmp_path / "llm"))
    plugin = FakeModels()
    llm.plugins.pm.register(plugin, name="outreach-test-models")
    yield plugin
    llm.plugins.pm.unregister(plugin)


@pytest.fixture
def configured(make_settings):
    def make(**first_line: Any):
        return make_settings(disabled=OTHER_ENRICHERS, plugins={"first_line": first_line})

    return make


async def _runtime(make_runtime, settings):
    return await make_runtime(settings, load_entry_points=False, extra_plugins=[("site", SiteFacts())])


async def _lead(rt, **fields: Any) -> int:
    values = {
        "business_name": "Acme Dental",
        "website_url": "https://acme-dental.example",
        "category": "Dentist",
        "categories": ["Dentist", "Cosmetic dentist"],
        "city": "Springfield",
        **fields,
    }
    lead, _ = await rt.leads.upsert_discovered(DiscoveredBusiness(**values), "test")
    return lead.id


async def _analyze(rt, lead_id: int) -> None:
    job = await submit_analysis(rt, [lead_id], actor="test")
    await rt.runner.run_now(job.id)


def _text(lead) -> str:
    return render_template(
        TemplateSource(subject="Hi", text="{{ first_line }}"), lead, sender_name="Sam"
    ).text


def _token(html: str) -> str:
    match = re.search(r'"x-csrftoken": "([^"]+)"', html)
    assert match, "the page carries no CSRF token"
    return match.group(1)


# -- writing the line ----------------------------------------------------------------------------


async def test_the_model_is_given_the_facts_and_its_line_reaches_the_template(
    models, configured, make_runtime
) -> None:
    models.sync.answer = f"  “{GOOD}”\n"
    rt = await _runtime(make_runtime, configured(model="outreach-test", max_words=25))
    lead_id = await _lead(rt)
    await _analyze(rt, lead_id)

    (prompt,) = models.sync.prompts
    for fact in (
        "Business: Acme Dental",
        "City: Springfield",
        "Category: Dentist",
        "Services: Cosmetic dentist",
        "Website title: Acme Dental | Home",
        "Website headline: Gentle dentistry for the whole family",
        f"Website description: {SITE['description']}",
        "at most 25 words",
    ):
        assert fact in prompt
    lead = await rt.leads.get(lead_id)
    assert lead.lifecycle_state == "pending_review"
    record = lead.enrichment["first_line"]
    assert record.data == {"first_line": GOOD, "model": "outreach-test"}
    assert record.source == "llm:outreach-test"
    assert template_context(lead, sender_name="Sam")["first_line"] == GOOD
    assert _text(lead) == GOOD


async def test_an_async_model_is_awaited_and_an_alias_names_a_model(models, configured, make_runtime) -> None:
    models.both.answer = "Gentle dentistry for the whole family is a lovely promise."
    rt = await _runtime(make_runtime, configured(model="outreach-test-both"))
    first = await _lead(rt)
    await _analyze(rt, first)
    assert len(models.both.prompts) == 1
    assert models.both_sync.prompts == []
    assert (await rt.leads.get(first)).enrichment["first_line"].data["first_line"] == models.both.answer

    models.sync.answer = GOOD
    aliased = await _runtime(make_runtime, configured(model="outreach-alias"))
    second = await _lead(aliased, business_name="Acme Dental Two", website_url="https://two.example")
    await _analyze(aliased, second)
    assert (await aliased.leads.get(second)).enrichment["first_line"].data["first_line"] == GOOD


async def test_the_prompt_is_the_users_template(models, configured, make_runtime) -> None:
    models.sync.answer = "Acme Dental in Springfield sounds great."
    prompt = 'Say hello to {business_name} of {city} ({category}) in {max_words} words; keep {"json": 1}.'
    rt = await _runtime(make_runtime, configured(model="outreach-test", prompt=prompt, max_words=12))
    await _analyze(rt, await _lead(rt))
    assert models.sync.prompts == [
        'Say hello to Acme Dental of Springfield (Dentist) in 12 words; keep {"json": 1}.'
    ]
    with pytest.raises(ConfigError, match=r"unknown placeholder \{town\}"):
        FirstLineOptions(model="m", prompt="Hi {town}")


def test_a_fact_the_lead_lacks_is_unknown_in_the_prompt() -> None:
    assert build_prompt("{business_name} in {city}", {"business_name": "Acme"}, 30) == "Acme in unknown"


# -- what is refused, and the plain sentence then -------------------------------------------------


async def test_an_answer_that_invents_a_fact_is_refused_and_the_plain_sentence_stays(
    models, configured, make_runtime
) -> None:
    models.sync.answer = "Your Springfield practice has served Dallas families since 2004."
    rt = await _runtime(make_runtime, configured(model="outreach-test"))
    lead_id = await _lead(rt)
    await _analyze(rt, lead_id)
    lead = await rt.leads.get(lead_id)
    data = lead.enrichment["first_line"].data
    assert data["first_line"] is None
    assert data["rejected"] == "it has the number '2004', which no fact has"
    assert data["answer"] == models.sync.answer
    assert lead.enrichment["first_line"].confidence == 0.0
    assert _text(lead) == PLAIN


async def test_a_model_that_raises_leaves_the_plain_sentence_and_the_lead_goes_to_review(
    models, configured, make_runtime
) -> None:
    models.sync.error = llm.ModelError("the server said 503")
    rt = await _runtime(make_runtime, configured(model="outreach-test"))
    lead_id = await _lead(rt)
    await _analyze(rt, lead_id)
    lead = await rt.leads.get(lead_id)
    assert lead.lifecycle_state == "pending_review"
    assert lead.enrichment["first_line"].data == {
        "first_line": None,
        "model": "outreach-test",
        "error": "ModelError: the server said 503",
    }
    assert _text(lead) == PLAIN


async def test_a_model_past_its_timeout_leaves_the_plain_sentence(models, configured, make_runtime) -> None:
    models.sync.answer = GOOD
    models.sync.delay = 3.0
    rt = await _runtime(make_runtime, configured(model="outreach-test", timeout=0.3))
    lead_id = await _lead(rt)
    started = time.monotonic()
    await _analyze(rt, lead_id)
    assert time.monotonic() - started < 2.5
    lead = await rt.leads.get(lead_id)
    assert lead.enrichment["first_line"].data["error"] == "the model took longer than 0.3 s"
    assert lead.enrichment["first_line"].data["first_line"] is None
    assert _text(lead) == PLAIN


async def test_an_unknown_model_is_said_by_name(models, configured, make_runtime) -> None:
    rt = await _runtime(make_runtime, configured(model="no-such-model"))
    lead_id = await _lead(rt)
    await _analyze(rt, lead_id)
    error = (await rt.leads.get(lead_id)).enrichment["first_line"].data["error"]
    assert error.startswith("llm has no model 'no-such-model'; `llm models` lists")


FACTS = ["Acme Dental", "Springfield", "Dentist", "Call 555-0142 or hello@acme.example", "acme.example"]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "the model's answer was empty"),
        ('  ""  ', "the model's answer was empty"),
        ("Acme Dental looks great. I would love to help.", "the answer has more than one sentence"),
        ("Acme Dental looks great\nLet us talk", "the answer has more than one sentence"),
        (" ".join(["word"] * 11), "the answer has 11 words; the limit is 10"),
        ("Your team in Shelbyville seems kind.", "it names 'Shelbyville', which no fact mentions"),
        ("Dr. Smith runs Acme Dental well.", "it names 'Smith', which no fact mentions"),
        ("Call 555-0199 for Acme Dental.", "it has the number '555-0199', which no fact has"),
        ("Acme Dental has 12 chairs.", "it has the number '12', which no fact has"),
        ("Write to info@acme.example today.", "it names the address 'info@acme.example', which no fact has"),
        (
            "See https://acme.example/offers now.",
            "it names the web address 'https://acme.example/offers', which no fact has",
        ),
        (
            "Your site acme-dental.com is nice.",
            "it names the web address 'acme-dental.com', which no fact has",
        ),
    ],
)
def test_the_check_refuses_what_the_facts_do_not_say(answer: str, reason: str) -> None:
    assert judge(answer, FACTS, max_words=10).reason == reason
    assert judge(answer, FACTS, max_words=10).line is None


@pytest.mark.parametrize(
    ("answer", "line"),
    [
        ("Lovely to see Acme Dental in Springfield!", "Lovely to see Acme Dental in Springfield!"),
        ("“I think Acme Dental’s team is kind”", "I think Acme Dental’s team is kind."),
        ("I'm sure hello@acme.example reaches you.", "I'm sure hello@acme.example reaches you."),
        ("Calling 555-0142 at acme.example works.", "Calling 555-0142 at acme.example works."),
        ("As a Dentist, you care.", "As a Dentist, you care."),
    ],
)
def test_the_check_accepts_what_the_facts_say(answer: str, line: str) -> None:
    assert judge(answer, FACTS, max_words=10).line == line


# -- off, and without llm ------------------------------------------------------------------------


async def test_without_a_model_the_plugin_is_off(models, configured, make_runtime) -> None:
    rt = await _runtime(make_runtime, configured())
    assert "first_line" not in rt.plugins.enrichers.names()
    assert "first_line" in rt.plugins.loaded_names()
    assert rt.plugins.failures == []
    lead_id = await _lead(rt)
    await _analyze(rt, lead_id)
    lead = await rt.leads.get(lead_id)
    assert "first_line" not in lead.enrichment
    assert models.sync.prompts == []
    assert _text(lead) == PLAIN
    async with AsyncTestClient(app=create_app(rt)) as client:
        panel = await client.get(f"/leads/{lead_id}", headers=HX)
    assert "first-line" not in panel.text


def test_a_model_without_llm_installed_says_how_to_install_it(configured, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "llm", None)  # what an import finds when llm is not installed
    host = build_plugin_host(configured(model="outreach-test"), load_entry_points=False)
    (failure,) = [f for f in host.failures if f.name == "first_line"]
    assert "pip install 'outreach[first-line]'" in failure.error
    assert "first_line" not in host.enrichers.names()
    assert build_plugin_host(configured(), load_entry_points=False).failures == []


# -- a person's line, in the panel ---------------------------------------------------------------


async def test_a_person_edits_the_line_in_the_panel_and_analysis_keeps_it(
    models, configured, make_runtime
) -> None:
    models.sync.answer = GOOD
    rt = await _runtime(make_runtime, configured(model="outreach-test"))
    lead_id = await _lead(rt, email="hello@acme-dental.example")
    await _analyze(rt, lead_id)
    async with AsyncTestClient(app=create_app(rt)) as client:
        token = _token((await client.get("/leads")).text)
        panel = await client.get(f"/leads/{lead_id}", headers=BESIDE_THE_TABLE)
        assert GOOD in panel.text
        assert "written by outreach-test" in panel.text
        assert f'hx-post="/leads/{lead_id}/first-line" hx-target="#lead-{lead_id}"' in panel.text

        refused = await client.post(f"/leads/{lead_id}/first-line", data={"first_line": "x"}, headers=HX)
        assert refused.status_code == 403

        version = (await rt.leads.get(lead_id)).version
        mine = "Your <b>crowns</b> made my neighbour smile."
        saved = await client.post(
            f"/leads/{lead_id}/first-line",
            data={"first_line": f"  {mine}  ", "version": str(version), "action": "save"},
            headers={**BESIDE_THE_TABLE, "HX-Target": f"lead-{lead_id}", "x-csrftoken": token},
        )
        assert saved.status_code == 200
        assert "<html" not in saved.text
        # The row comes back with the new version its review buttons send, the block out of band.
        assert (
            f'<tr id="lead-{lead_id}" data-state="pending_review" data-version="{version + 1}"' in saved.text
        )
        # In a template: after a <tr>, a parser would take the block's form apart.
        assert (
            f'<template><div class="enrichment-block first-line" id="first-line-{lead_id}" hx-swap-oob="true">'
            in saved.text
        )
        assert "Your &lt;b&gt;crowns&lt;/b&gt; made my neighbour smile." in saved.text
        assert "written by a person" in saved.text
        approved = await client.post(
            f"/leads/{lead_id}/approve",
            data={"version": str(version + 1)},
            headers={**HX, "x-csrftoken": token},
        )
        assert approved.status_code == 200

        stale = await client.post(
            f"/leads/{lead_id}/first-line",
            data={"first_line": "Too late.", "version": str(version)},
            headers={**HX, "x-csrftoken": token},
        )
        assert stale.status_code == 409

    lead = await rt.leads.get(lead_id)
    assert _text(lead) == mine
    (edit,) = [entry for entry in await audit.trail("lead", lead_id) if entry.action == "first_line_edited"]
    assert edit.actor == "web"
    assert edit.old_value == {"first_line": "model"}
    assert edit.new_value == {"first_line": "person", "words": 6}

    # Analysis again (a retried lead, a later run): the person's line stands, the model is not asked.
    enricher = rt.plugins.enrichers.get("first_line")
    again = await enricher.enrich(lead)
    assert again.data["first_line"] == mine
    assert again.data["edited_by"] == "web"
    assert len(models.sync.prompts) == 1


async def test_a_line_written_before_analysis_survives_it_and_clearing_gives_the_plain_sentence(
    models, configured, make_runtime
) -> None:
    models.sync.answer = GOOD
    rt = await _runtime(make_runtime, configured(model="outreach-test"))
    lead_id = await _lead(rt)
    async with AsyncTestClient(app=create_app(rt)) as client:
        token = _token((await client.get("/leads")).text)
        page = await client.get(f"/leads/{lead_id}")
        assert "Templates use the plain sentence" in page.text
        assert f'hx-post="/leads/{lead_id}/first-line" hx-target="#first-line-{lead_id}"' in page.text
        saved = await client.post(
            f"/leads/{lead_id}/first-line",
            data={"first_line": "Springfield is lucky to have you.", "_csrf_token": token},
            headers={**HX, "HX-Target": f"first-line-{lead_id}"},
        )
        assert saved.text.startswith(f'<div class="enrichment-block first-line" id="first-line-{lead_id}">')
        assert "<tr" not in saved.text
        assert (
            "Not analyzed yet." in (await client.get(f"/leads/{lead_id}")).text
        )  # a person's line is no analysis
        await _analyze(rt, lead_id)
        assert models.sync.prompts == []
        lead = await rt.leads.get(lead_id)
        assert lead.lifecycle_state == "pending_review"
        assert _text(lead) == "Springfield is lucky to have you."

        cleared = await client.post(
            f"/leads/{lead_id}/first-line",
            data={"first_line": "ignored", "action": "clear", "_csrf_token": token},
            follow_redirects=False,
        )
        assert cleared.status_code == 303
        assert cleared.headers["location"] == f"/leads/{lead_id}"
        page = await client.get(f"/leads/{lead_id}")
        assert "cleared by a person" in page.text
        assert "Templates use the plain sentence: “I came across Acme Dental" in page.text

        too_long = await client.post(
            f"/leads/{lead_id}/first-line", data={"first_line": "x" * 301, "_csrf_token": token}, headers=HX
        )
        assert too_long.status_code == 422
        assert "keep it to 300" in too_long.text

    lead = await rt.leads.get(lead_id)
    assert lead.enrichment["first_line"].data["first_line"] is None
    assert _text(lead) == PLAIN
    actions = [(e.action, e.actor) for e in await audit.trail("lead", lead_id) if "first_line" in e.action]
    assert actions == [("first_line_edited", "web"), ("first_line_cleared", "web")]
