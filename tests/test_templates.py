"""Templates: sandboxed rendering, problems reported when saved, previews, and the derived variables."""

from __future__ import annotations

import pytest

from outreach.kernel import DiscoveredBusiness
from outreach.kernel.errors import TemplateError
from outreach.kernel.models import EnrichmentRecord, Lead
from outreach.kernel.personalize import city_of, first_line, first_name
from outreach.kernel.templating import TemplateSource, check_template, render_template


def source(text: str, subject: str = "Hello {{ business_name }}", html: str | None = None) -> TemplateSource:
    return TemplateSource(subject=subject, text=text, html=html)


def test_unknown_variables_are_reported_with_a_suggestion() -> None:
    problems = check_template(source("Hi {{ frist_name }} from {{ ctiy }}"))
    assert "The text uses 'ctiy', which is not a variable. Did you mean 'city'?" in problems
    assert any("'frist_name'" in p and "first_name" in p for p in problems)


def test_sandbox_violations_are_reported_when_saved() -> None:
    assert any("__class__" in p for p in check_template(source("{{ business_name.__class__.__mro__ }}")))
    problems = check_template(source("{{ categories.append('x') }}"))
    assert any("may not do" in p and "append" in p for p in problems)
    with pytest.raises(TemplateError, match="may not do"):
        render_template(
            source("{{ categories.append('x') }}"),
            Lead(id=1, business_name="A", categories=["x"]),
            sender_name="Ann",
        )


def test_a_value_some_leads_lack_needs_a_default() -> None:
    problems = check_template(source("Hi {{ contact_name }},"))
    assert len(problems) == 1
    assert "some leads do not have" in problems[0]
    assert "default" in problems[0]
    assert check_template(source('Hi {{ contact_name | default("there") }},')) == []
    assert check_template(source("{% if city %}in {{ city }}{% endif %}")) == []
    assert check_template(source("{{ enrichment.website.title | default('') }}")) == []


def test_syntax_errors_name_the_part_and_line() -> None:
    assert check_template(source("ok", subject="Hi {% if")) == [
        "The subject has a syntax error on line 1: unexpected 'end of template'."
    ]


def test_html_is_autoescaped_text_is_not_and_subjects_are_one_line() -> None:
    lead = Lead(id=1, business_name="Bob & <Sons>", contact_name="dana")
    rendered = render_template(
        source(
            "Hi {{ first_name }} at {{ business_name }}",
            subject="For\n{{ business_name }}",
            html="<p>{{ business_name }}</p>",
        ),
        lead,
        sender_name="Ann",
    )
    assert rendered.text == "Hi Dana at Bob & <Sons>"
    assert rendered.html == "<p>Bob &amp; &lt;Sons&gt;</p>"
    assert rendered.subject == "For Bob & <Sons>"


def test_derived_variables_from_messy_real_data() -> None:
    assert city_of(Lead(id=1, business_name="A", location="123 Main St, Austin, TX 78701")) == "Austin"
    assert city_of(Lead(id=1, business_name="A", location="Rue de Rivoli 5, 75001 Paris, France")) == "Paris"
    assert city_of(Lead(id=1, business_name="A", location="Somewhere")) is None
    assert first_name(Lead(id=1, business_name="A", contact_name="Dr. DANA SMITH")) == "Dana"
    assert first_name(Lead(id=1, business_name="A", contact_name="info@acme.example")) is None
    described = Lead(
        id=1,
        business_name="Acme Dental",
        enrichment={
            "website": EnrichmentRecord(
                enricher="website", data={"description": "Gentle family dentistry in Austin. Since 1990."}
            )
        },
    )
    assert (
        first_line(described)
        == 'I came across Acme Dental and liked how you put it: "Gentle family dentistry in Austin".'
    )
    titled = Lead(
        id=1,
        business_name="Acme Dental",
        enrichment={
            "website": EnrichmentRecord(
                enricher="website", data={"title": "Home | Acme Dental | Invisalign in Austin"}
            )
        },
    )
    assert first_line(titled) == "I came across Acme Dental (Invisalign in Austin) and wanted to reach out."
    assert first_line(Lead(id=1, business_name="Acme", category="Dentist", city="Austin")) == (
        "I came across Acme while looking at dentist businesses in Austin."
    )


async def test_saving_refuses_a_broken_template_and_preview_renders_for_a_lead(runtime) -> None:
    with pytest.raises(TemplateError) as error:
        await runtime.templates.save("intro", "Hi {{ busness_name }}", "x", actor="test")
    assert "busness_name" in str(error.value)
    assert await runtime.templates.list() == []
    saved = await runtime.templates.save(
        "intro", "Hi {{ business_name }}", "{{ first_line }}\n-- {{ sender_name }}", actor="test"
    )
    lead, _ = await runtime.leads.upsert_discovered(
        DiscoveredBusiness(business_name="Acme", city="Austin"), "test"
    )
    preview = await runtime.templates.preview(source(saved.body_text, saved.subject), lead.id)
    assert preview.subject == "Hi Acme"
    assert preview.text == "I came across Acme while looking at businesses in Austin.\n-- outreach"
    with pytest.raises(TemplateError, match="exists already"):
        await runtime.templates.save("intro", "x", "y", actor="test")
