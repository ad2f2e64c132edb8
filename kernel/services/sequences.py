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
"""

from __future__ import annotations

import tomllib
from typing import TYPE_CHECKING, Any

import msgspec

from ..config import decode_section
from ..errors import ConfigError, NotFound, SequenceError, TemplateError
from ..models import Sequence, SequenceStep
from ..store.engine import write_transaction
from ..store.tables import SequenceRow, SequenceStepRow, TemplateRow
from ..templating import TemplateSource, check_template
from . import audit
from .transitions import utcnow

if TYPE_CHECKING:
    from ..runtime import Runtime


class StepSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One ``[[steps]]`` table of a sequence file."""

    subject: str = ""
    body: str = ""
    html: str | None = None
    template: str | None = None
    delay_days: float = 0
    business_days: bool = False


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


def step_source(step: SequenceStep) -> TemplateSource:
    """What a step renders."""
    return TemplateSource(subject=step.subject, text=step.body_text, html=step.body_html)


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
        return steps

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

    async def _check(self, spec: SequenceSpec) -> list[tuple[StepSpec, int | None, TemplateSource]]:
        if not spec.name.strip():
            raise SequenceError("A sequence needs a name.")
        if not spec.steps:
            raise SequenceError(f"Sequence '{spec.name}' has no steps; add at least one [[steps]] table.")
        checked = []
        problems: list[str] = []
        for number, step in enumerate(spec.steps, start=1):
            template_id = None
            if step.template:
                row = await TemplateRow.select().where(TemplateRow.name == step.template).first()
                if row is None:
                    problems.append(f"Step {number} names template '{step.template}', which does not exist.")
                    continue
                template_id = row["id"]
                source = TemplateSource(subject=row["subject"], text=row["body_text"], html=row["body_html"])
            else:
                source = TemplateSource(subject=step.subject, text=step.body, html=step.html or None)
            if number == 1 and not source.subject.strip():
                problems.append("Step 1 needs a subject (later steps reply in its thread).")
            if not source.text.strip():
                problems.append(f"Step {number} has no body.")
            if step.delay_days < 0:
                problems.append(f"Step {number} has a negative delay.")
            probe = source if source.subject.strip() else msgspec.structs.replace(source, subject="x")
            problems.extend(f"Step {number}: {problem}" for problem in check_template(probe))
            checked.append((step, template_id, source))
        if problems:
            raise TemplateError(" ".join(problems), problems=problems)
        return checked

    async def save(self, spec: SequenceSpec, *, actor: str) -> tuple[Sequence, bool]:
        """Store ``spec``, replacing the steps of a sequence of the same name; True if it is new."""
        checked = await self._check(spec)
        async with write_transaction():
            existing = await SequenceRow.select(SequenceRow.id).where(SequenceRow.name == spec.name).first()
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
                    for position, (step, template_id, source) in enumerate(checked, start=1)
                ]
            )
            await audit.record(
                "sequence",
                sequence_id,
                "created" if created else "replaced",
                actor,
                new={"name": spec.name, "steps": len(checked)},
            )
        return await self.get(sequence_id), created

    async def load_text(
        self, text: str, *, actor: str, source: str = "the sequence file"
    ) -> tuple[Sequence, bool]:
        """Parse and store a sequence file's text."""
        return await self.save(parse_sequence(text, source=source), actor=actor)
