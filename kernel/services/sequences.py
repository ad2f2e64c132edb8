"""Sequences: a first email and its follow-ups, loaded from TOML and checked step by step.

A sequence file reads::

    name = "dentists"
    [[steps]]
    subject = "A question for {{ business_name }}"
    body = "Hi {{ first_name | default('there') }}, ..."
    delay_days = 0
    [[steps]]
    body = "Just following up ..."
    delay_days = 3
    business_days = true

A step may name a saved template (``template = "intro"``) instead of carrying its own
text. Steps after the first are sent as replies in the first email's thread, so their
subject is always ``Re:`` and the first subject.

A step may have variants, whole texts a person wrote, for an A/B test::

    [[steps]]
    subject = "A question for {{ business_name }}"
    body = "..."
    [[steps.variants]]
    name = "short"
    subject = "{{ business_name }}?"
    weight = 2
    [[steps.variants]]
    name = "long"

A variant's missing ``subject`` or ``body`` is the step's own; each lead gets one variant
of the step, chosen by weight (see :mod:`outreach.kernel.services.variants`).
"""

from __future__ import annotations

import tomllib
from typing import TYPE_CHECKING, Any

import msgspec

from ..config import decode_section
from ..errors import ConfigError, NotFound, SequenceError, TemplateError
from ..models import Sequence, SequenceStep, StepVariant
from ..store.engine import write_transaction
from ..store.tables import SequenceRow, SequenceStepRow, SequenceVariantRow, TemplateRow
from ..templating import TemplateSource, check_template
from . import audit
from .transitions import utcnow

if TYPE_CHECKING:
    from ..runtime import Runtime


class VariantSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One ``[[steps.variants]]`` table: a version of the step's text and its weight."""

    #: Names it in the figures and on the emails; A, B, C... when not given.
    name: str = ""
    subject: str = ""
    body: str = ""
    html: str | None = None
    template: str | None = None
    weight: float = 1.0


class StepSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One ``[[steps]]`` table of a sequence file."""

    subject: str = ""
    body: str = ""
    html: str | None = None
    template: str | None = None
    delay_days: float = 0
    business_days: bool = False
    variants: list[VariantSpec] = []


#: The longest variant name (the column's width).
VARIANT_NAME_LIMIT = 64


class CheckedVariant(msgspec.Struct, kw_only=True):
    """A variant as it is stored: its own fields (empty ones are the step's) and its template."""

    name: str
    spec: VariantSpec
    template_id: int | None


class SequenceSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A whole sequence file."""

    name: str
    description: str | None = None
    steps: list[StepSpec] = []


def parse_sequence(text: str, *, source: str = "the sequence file") -> SequenceSpec:
    """Read a sequence file; a TOML error or an unknown key is an error that names it."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SequenceError(f"{source} is not valid TOML: {exc}.") from None
    try:
        return decode_section(raw, SequenceSpec, where=source)
    except ConfigError as exc:
        raise SequenceError(str(exc)) from None


def step_source(step: SequenceStep, variant: StepVariant | None = None) -> TemplateSource:
    """What a step renders (as ``variant`` when given)."""
    if variant is not None:
        return TemplateSource(subject=variant.subject, text=variant.body_text, html=variant.body_html)
    return TemplateSource(subject=step.subject, text=step.body_text, html=step.body_html)


def find_variant(step: SequenceStep, name: str | None) -> StepVariant | None:
    """The step's variant called ``name``, or None (no name, or no such variant)."""
    return next((v for v in step.variants if name is not None and v.name == name), None)


def _variant_name(spec: VariantSpec, index: int) -> str:
    """The variant's own name, else A, B, C... by its place in the step."""
    if spec.name.strip():
        return spec.name.strip()
    return chr(ord("A") + index) if index < 26 else f"V{index + 1}"


def reply_subject(subject: str) -> str:
    """``Re: subject``, without stacking a second ``Re:``."""
    return subject if subject[:3].lower() == "re:" else f"Re: {subject}"


class SequenceService:
    """Reads and stores sequences with their steps."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    async def _steps(self, sequence_ids: list[int]) -> dict[int, list[SequenceStep]]:
        steps: dict[int, list[SequenceStep]] = {i: [] for i in sequence_ids}
        if not sequence_ids:
            return steps
        rows = await (
            SequenceStepRow.select(
                *SequenceStepRow.all_columns(),
                SequenceStepRow.template.subject.as_alias("t_subject"),
                SequenceStepRow.template.body_text.as_alias("t_text"),
                SequenceStepRow.template.body_html.as_alias("t_html"),
                SequenceStepRow.template.name.as_alias("t_name"),
            )
            .where(SequenceStepRow.sequence.is_in(sequence_ids))
            .order_by(SequenceStepRow.position)
        )
        for row in rows:
            from_template = row.get("t_name") is not None
            steps[row["sequence"]].append(
                SequenceStep(
                    position=row["position"],
                    subject=(row["t_subject"] if from_template else row["subject"]) or "",
                    body_text=(row["t_text"] if from_template else row["body_text"]) or "",
                    body_html=row["t_html"] if from_template else row["body_html"],
                    delay_days=row["delay_days"] or 0,
                    business_days=bool(row["business_days"]),
                    template_id=row["template"],
                    template_name=row.get("t_name"),
                )
            )
        await self._attach_variants(steps)
        return steps

    async def _attach_variants(self, steps: dict[int, list[SequenceStep]]) -> None:
        """Give each step its variants, their empty fields filled from the step."""
        rows = await (
            SequenceVariantRow.select(
                *SequenceVariantRow.all_columns(),
                SequenceVariantRow.template.subject.as_alias("t_subject"),
                SequenceVariantRow.template.body_text.as_alias("t_text"),
                SequenceVariantRow.template.body_html.as_alias("t_html"),
                SequenceVariantRow.template.name.as_alias("t_name"),
            )
            .where(SequenceVariantRow.sequence.is_in(list(steps)))
            .order_by(SequenceVariantRow.id)
        )
        by_step = {(sequence_id, step.position): step for sequence_id, s in steps.items() for step in s}
        for row in rows:
            step = by_step.get((row["sequence"], row["position"]))
            if step is None:
                continue
            from_template = row.get("t_name") is not None
            subject = (row["t_subject"] if from_template else row["subject"]) or ""
            text = (row["t_text"] if from_template else row["body_text"]) or ""
            html = row["t_html"] if from_template else row["body_html"]
            step.variants.append(
                StepVariant(
                    name=row["name"],
                    subject=subject or step.subject,
                    body_text=text or step.body_text,
                    body_html=html if (html or text) else step.body_html,
                    weight=row["weight"] or 1.0,
                    stopped=bool(row["stopped"]),
                    template_id=row["template"],
                    template_name=row.get("t_name"),
                )
            )

    def _sequence(self, row: dict[str, Any], steps: list[SequenceStep]) -> Sequence:
        return Sequence(
            id=row["id"],
            name=row["name"],
            description=row.get("description"),
            active=bool(row.get("active", True)),
            steps=steps,
            created_at=row.get("created_at"),
            updated_at=row.get("updated_at"),
        )

    async def list(self) -> list[Sequence]:
        """Every sequence with its steps, by name."""
        rows = await SequenceRow.select().order_by(SequenceRow.name)
        steps = await self._steps([r["id"] for r in rows])
        return [self._sequence(r, steps[r["id"]]) for r in rows]

    async def get(self, sequence_id: int) -> Sequence:
        """One sequence with its steps."""
        row = await SequenceRow.select().where(SequenceRow.id == sequence_id).first()
        if row is None:
            raise NotFound(
                f"There is no sequence with id {sequence_id}; `outreach sequences list` shows them."
            )
        return self._sequence(row, (await self._steps([row["id"]]))[row["id"]])

    async def find(self, reference: str | int) -> Sequence:
        """A sequence by name, or by id when ``reference`` is a number."""
        if isinstance(reference, int) or str(reference).isdigit():
            return await self.get(int(reference))
        row = await SequenceRow.select().where(SequenceRow.name == reference).first()
        if row is None:
            names = ", ".join(s.name for s in await self.list()) or "none yet"
            raise NotFound(
                f"There is no sequence named '{reference}' (there are: {names}); "
                "load one with `outreach sequences load FILE.toml`."
            )
        return self._sequence(row, (await self._steps([row["id"]]))[row["id"]])

    async def _template(self, name: str) -> tuple[int, TemplateSource] | None:
        row = await TemplateRow.select().where(TemplateRow.name == name).first()
        if row is None:
            return None
        return row["id"], TemplateSource(subject=row["subject"], text=row["body_text"], html=row["body_html"])

    async def _check_variants(
        self, number: int, step: StepSpec, base: TemplateSource, problems: list[str]
    ) -> list[CheckedVariant]:
        """Each variant of step ``number`` checked as the text it renders."""
        checked: list[CheckedVariant] = []
        names: set[str] = set()
        for index, variant in enumerate(step.variants):
            name = _variant_name(variant, index)
            where = f"Step {number}, variant '{name}'"
            if name in names:
                problems.append(f"{where}: two variants of one step have this name; give each its own.")
                continue
            if len(name) > VARIANT_NAME_LIMIT:
                problems.append(f"{where}: the name is longer than {VARIANT_NAME_LIMIT} characters.")
                continue
            names.add(name)
            if not variant.weight > 0:
                problems.append(f"{where}: the weight must be above 0 (stop a variant to stop sending it).")
            template_id = None
            if variant.template:
                found = await self._template(variant.template)
                if found is None:
                    problems.append(f"{where} names template '{variant.template}', which does not exist.")
                    continue
                template_id, source = found
            else:
                source = TemplateSource(
                    subject=variant.subject or base.subject,
                    text=variant.body or base.text,
                    html=(variant.html or None) if variant.body or variant.html else base.html,
                )
            if number == 1 and not source.subject.strip():
                problems.append(f"{where} needs a subject (its own or the step's).")
            if not source.text.strip():
                problems.append(f"{where} has no body (its own or the step's).")
            probe = source if source.subject.strip() else msgspec.structs.replace(source, subject="x")
            problems.extend(f"{where}: {problem}" for problem in check_template(probe))
            checked.append(CheckedVariant(name=name, spec=variant, template_id=template_id))
        return checked

    async def _check(
        self, spec: SequenceSpec
    ) -> list[tuple[StepSpec, int | None, TemplateSource, list[CheckedVariant]]]:
        if not spec.name.strip():
            raise SequenceError("A sequence needs a name.")
        if not spec.steps:
            raise SequenceError(f"Sequence '{spec.name}' has no steps; add at least one [[steps]] table.")
        checked = []
        problems: list[str] = []
        for number, step in enumerate(spec.steps, start=1):
            template_id = None
            if step.template:
                found = await self._template(step.template)
                if found is None:
                    problems.append(f"Step {number} names template '{step.template}', which does not exist.")
                    continue
                template_id, source = found
            else:
                source = TemplateSource(subject=step.subject, text=step.body, html=step.html or None)
            variants = await self._check_variants(number, step, source, problems)
            # With variants, the step's own text is only what they inherit: it may be empty.
            if not variants and number == 1 and not source.subject.strip():
                problems.append("Step 1 needs a subject (later steps reply in its thread).")
            if not variants and not source.text.strip():
                problems.append(f"Step {number} has no body.")
            if step.delay_days < 0:
                problems.append(f"Step {number} has a negative delay.")
            if source.subject.strip() or source.text.strip():
                probe = source if source.subject.strip() else msgspec.structs.replace(source, subject="x")
                probe = probe if probe.text.strip() else msgspec.structs.replace(probe, text="x")
                problems.extend(f"Step {number}: {problem}" for problem in check_template(probe))
            checked.append((step, template_id, source, variants))
        if problems:
            raise TemplateError(" ".join(problems), problems=problems)
        return checked

    async def save(self, spec: SequenceSpec, *, actor: str) -> tuple[Sequence, bool]:
        """Store ``spec``, replacing the steps of a sequence of the same name; True if it is new."""
        checked = await self._check(spec)
        async with write_transaction():
            existing = await SequenceRow.select(SequenceRow.id).where(SequenceRow.name == spec.name).first()
            stopped: set[tuple[int, str]] = set()
            if existing is None:
                rows = await SequenceRow.insert(
                    SequenceRow(name=spec.name, description=spec.description)
                ).returning(SequenceRow.id)
                sequence_id, created = rows[0]["id"], True
            else:
                sequence_id, created = existing["id"], False
                await SequenceRow.update(
                    {SequenceRow.description: spec.description, SequenceRow.updated_at: utcnow()}
                ).where(SequenceRow.id == sequence_id)
                await SequenceStepRow.delete().where(SequenceStepRow.sequence == sequence_id)
                # A variant a person stopped stays stopped when its sequence is loaded again.
                kept = await SequenceVariantRow.select(
                    SequenceVariantRow.position, SequenceVariantRow.name
                ).where((SequenceVariantRow.sequence == sequence_id) & SequenceVariantRow.stopped.eq(True))
                stopped = {(r["position"], r["name"]) for r in kept}
                await SequenceVariantRow.delete().where(SequenceVariantRow.sequence == sequence_id)
            await SequenceStepRow.insert(
                *[
                    SequenceStepRow(
                        sequence=sequence_id,
                        position=position,
                        template=template_id,
                        subject=source.subject,
                        body_text=source.text,
                        body_html=source.html,
                        delay_days=step.delay_days,
                        business_days=step.business_days,
                    )
                    for position, (step, template_id, source, _) in enumerate(checked, start=1)
                ]
            )
            variant_rows = [
                SequenceVariantRow(
                    sequence=sequence_id,
                    position=position,
                    name=variant.name,
                    template=variant.template_id,
                    subject=variant.spec.subject,
                    body_text=variant.spec.body,
                    body_html=variant.spec.html or None,
                    weight=variant.spec.weight,
                    stopped=(position, variant.name) in stopped,
                )
                for position, (_, _, _, variants) in enumerate(checked, start=1)
                for variant in variants
            ]
            if variant_rows:
                await SequenceVariantRow.insert(*variant_rows)
            await audit.record(
                "sequence",
                sequence_id,
                "created" if created else "replaced",
                actor,
                new={
                    "name": spec.name,
                    "steps": len(checked),
                    "variants": sum(len(variants) for *_, variants in checked),
                },
            )
        return await self.get(sequence_id), created

    async def load_text(
        self, text: str, *, actor: str, source: str = "the sequence file"
    ) -> tuple[Sequence, bool]:
        """Parse and store a sequence file's text."""
        return await self.save(parse_sequence(text, source=source), actor=actor)
