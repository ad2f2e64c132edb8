"""Rendering user-written email templates for a lead, in a sandbox.

Templates are Jinja, rendered by an immutable sandboxed environment: a template can
read the lead's fields but cannot call methods that change anything or reach
Python internals. A variable that a lead does not have is *missing*: printing it is
an error, but it is false in ``{% if %}`` and ``| default("there")`` replaces it, so
a template says what to write when a lead lacks a contact name.

:func:`check_template` is what saving runs: it parses each part, names variables that
do not exist (by inspecting the AST), and renders the template for a lead with every
field filled and for a lead with only a name, so that a sandbox violation or a
variable that some leads lack is reported then, not when the email is sent.
"""

from __future__ import annotations

import difflib
import functools
import re
from typing import Any

import msgspec
from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.environment import Template as JinjaTemplate
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from .errors import TemplateError
from .models import EnrichmentRecord, Lead, RenderedEmail
from .personalize import city_of, first_line, first_name

#: The lead's own fields a template may use.
LEAD_FIELDS = (
    "business_name",
    "category",
    "categories",
    "location",
    "city",
    "country_code",
    "website_url",
    "email",
    "phone",
    "contact_name",
    "rating",
    "review_count",
    "maps_url",
    "score",
)
#: Every variable a template may use.
VARIABLES = frozenset((*LEAD_FIELDS, "first_line", "first_name", "enrichment", "sender_name"))


class TemplateSource(msgspec.Struct, kw_only=True, frozen=True):
    """The three parts of a template, as written."""

    subject: str
    text: str
    html: str | None = None


class MissingValue(StrictUndefined):
    """A variable the lead has no value for: strict when printed, false when tested, chainable."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__":
            raise AttributeError(name)
        return self

    def __getitem__(self, key: Any) -> Any:
        return self


def _environment(autoescape: bool) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        undefined=MissingValue, autoescape=autoescape, keep_trailing_newline=True, auto_reload=False
    )


_TEXT = _environment(autoescape=False)
_HTML = _environment(autoescape=True)


@functools.lru_cache(maxsize=512)
def _compile(source: str, html: bool) -> JinjaTemplate:
    return (_HTML if html else _TEXT).from_string(source)


def template_context(lead: Lead, *, sender_name: str) -> dict[str, Any]:
    """The variables a template sees for ``lead``; fields without a value are left out (missing)."""
    values: dict[str, Any] = {name: getattr(lead, name) for name in LEAD_FIELDS}
    values["city"] = city_of(lead)
    values["first_name"] = first_name(lead)
    values["first_line"] = first_line(lead)
    values["sender_name"] = sender_name
    values["enrichment"] = {name: dict(record.data) for name, record in lead.enrichment.items()}
    return {name: value for name, value in values.items() if value not in (None, "", [])}


def _single_line(text: str) -> str:
    return " ".join(text.split())


def render_template(source: TemplateSource, lead: Lead, *, sender_name: str) -> RenderedEmail:
    """Render ``source`` for ``lead``; :class:`TemplateError` saying what is wrong if it cannot be."""
    context = template_context(lead, sender_name=sender_name)
    parts: dict[str, str | None] = {}
    for part, text, html in (("subject", source.subject, False), ("text", source.text, False)) + (
        (("html", source.html, True),) if source.html else ()
    ):
        try:
            parts[part] = _compile(text, html).render(context)
        except TemplateSyntaxError as exc:
            raise TemplateError(
                f"The {part} has a syntax error on line {exc.lineno}: {exc.message}."
            ) from None
        except UndefinedError as exc:
            raise _MissingVariable(part, _undefined_name(exc), lead.id) from None
        except SecurityError as exc:
            raise TemplateError(
                f"The {part} does something templates may not do: {str(exc).rstrip('.')}."
            ) from None
        except Exception as exc:  # a template error of any other kind (a type error, 1/0...)
            raise TemplateError(f"The {part} cannot be rendered: {exc}.") from None
    return RenderedEmail(
        subject=_single_line(parts["subject"] or ""), text=parts["text"] or "", html=parts.get("html")
    )


class _MissingVariable(TemplateError):
    """A template printed a variable the lead has no value for."""

    def __init__(self, part: str, name: str, lead_id: int) -> None:
        self.part, self.name = part, name
        super().__init__(
            f"The {part} uses {name}, which lead {lead_id} does not have; give it a default in the template."
        )


_UNDEFINED = re.compile(r"'([^']+)' is undefined|has no attribute '([^']+)'")


def _undefined_name(exc: UndefinedError) -> str:
    match = _UNDEFINED.search(str(exc))
    if not match:
        return "a value"
    return f"'{match.group(1) or match.group(2)}'"


def _unsafe_attributes(tree: nodes.Template) -> list[str]:
    """Attribute names a template reaches for that the sandbox forbids (``__class__``, ``_x``)."""
    found = [node.attr for node in tree.find_all(nodes.Getattr) if node.attr.startswith("_")]
    found += [
        str(node.arg.value)
        for node in tree.find_all(nodes.Getitem)
        if isinstance(node.arg, nodes.Const) and str(node.arg.value).startswith("_")
    ]
    return sorted(set(found))


def _sample_leads() -> tuple[Lead, Lead]:
    full = Lead(
        id=0,
        business_name="Acme Dental",
        category="Dentist",
        categories=["Dentist", "Cosmetic dentist"],
        location="1 Main St, Springfield, IL 62701",
        city="Springfield",
        country_code="US",
        website_url="https://acme-dental.example",
        email="info@acme-dental.example",
        phone="+1 217 555 0100",
        contact_name="Dana Smith",
        rating=4.7,
        review_count=120,
        maps_url="https://maps.google.com/?cid=1",
        score=0.8,
        enrichment={
            "website": EnrichmentRecord(
                enricher="website",
                data={"title": "Acme Dental | Springfield", "description": "Gentle family dentistry."},
            )
        },
    )
    sparse = Lead(id=0, business_name="Acme Dental")
    return full, sparse


def check_template(source: TemplateSource) -> list[str]:
    """Every problem with ``source`` a person should fix before saving it; empty when it is fine."""
    problems: list[str] = []
    parts = [("subject", source.subject, False), ("text", source.text, False)]
    if source.html:
        parts.append(("HTML", source.html, True))
    for part, text, html in parts:
        env = _HTML if html else _TEXT
        try:
            tree = env.parse(text)
        except TemplateSyntaxError as exc:
            problems.append(f"The {part} has a syntax error on line {exc.lineno}: {exc.message}.")
            continue
        for name in sorted(meta.find_undeclared_variables(tree) - VARIABLES):
            close = difflib.get_close_matches(name, sorted(VARIABLES), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            problems.append(f"The {part} uses '{name}', which is not a variable.{hint}")
        for attribute in _unsafe_attributes(tree):
            problems.append(f"The {part} reaches for '{attribute}', which templates may not use.")
    if problems:
        return problems
    full, sparse = _sample_leads()
    for lead, label in ((full, "full"), (sparse, "sparse")):
        try:
            render_template(source, lead, sender_name="Ann Example")
        except _MissingVariable as exc:
            if label == "sparse":
                message = (
                    f"The {exc.part} uses {exc.name}, which some leads do not have; put a default after "
                    f'it, as in {{{{ first_name | default("there") }}}}, or test it with {{% if %}}.'
                )
                if message not in problems:
                    problems.append(message)
        except TemplateError as exc:
            if str(exc) not in problems:
                problems.append(str(exc))
    return problems


def validate_template(source: TemplateSource) -> None:
    """Raise :class:`TemplateError` listing every problem with ``source``."""
    problems = check_template(source)
    if problems:
        raise TemplateError(" ".join(problems), problems=problems)
