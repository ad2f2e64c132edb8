"""Choosing a step's variant for each lead, and stopping or resuming a variant.

Leads are shared out by weight as they are enrolled: each lead gets the active variant
furthest behind its share of what the step has sent so far (counted from the emails
already written), so two variants of weight 1 alternate and a weight-2 variant gets two
leads in three. The split holds over several enrollments and after a variant is stopped:
the others take over its share. A follow-up step whose variants carry the same name as
the lead's first email keeps that lead on the same line (``short`` then ``short``); else
its variant is chosen by weight too.
"""

from __future__ import annotations

from ..errors import NotFound, SequenceError
from ..models import Sequence, SequenceStep, StepVariant
from ..store.engine import write_transaction
from ..store.tables import EmailRow, SequenceVariantRow
from . import audit
from .transitions import utcnow


class VariantCounts:
    """How many emails each variant of each step has, kept up to date while choosing."""

    def __init__(self, sequence_id: int) -> None:
        self._sequence_id = sequence_id
        self._counts: dict[int, dict[str, int]] = {}

    async def _load(self, position: int) -> dict[str, int]:
        if position not in self._counts:
            rows = await EmailRow.raw(
                "SELECT variant, COUNT(*) AS n FROM emails WHERE sequence_id = {} AND step_number = {} "
                "AND variant IS NOT NULL GROUP BY variant",
                self._sequence_id,
                position,
            )
            self._counts[position] = {r["variant"]: int(r["n"]) for r in rows}
        return self._counts[position]

    async def choose(self, step: SequenceStep, keep: str | None = None) -> StepVariant | None:
        """The variant the next lead gets at ``step`` (None: the step has none).

        :param keep: the variant name the lead had before; an active variant of that name wins.
        Call :meth:`taken` once the email is written, so the next choice counts it.
        """
        if not step.variants:
            return None
        # Every variant stopped (a reloaded file can do that): send rather than send nothing.
        active = [v for v in step.variants if not v.stopped] or step.variants
        counts = await self._load(step.position)
        chosen = next((v for v in active if keep is not None and v.name == keep), None)
        if chosen is None:
            chosen = min(active, key=lambda v: (counts.get(v.name, 0) + 1) / v.weight)
        return chosen

    def taken(self, step: SequenceStep, variant: StepVariant | None) -> None:
        """Count one more email of ``variant`` at ``step``."""
        if variant is not None:
            counts = self._counts.setdefault(step.position, {})
            counts[variant.name] = counts.get(variant.name, 0) + 1


def _step_of(sequence: Sequence, position: int) -> SequenceStep:
    if not 1 <= position <= len(sequence.steps):
        raise SequenceError(f"Sequence '{sequence.name}' has steps 1 to {len(sequence.steps)}.")
    return sequence.steps[position - 1]


async def set_stopped(sequence: Sequence, position: int, name: str, stopped: bool, *, actor: str) -> None:
    """Stop (or resume) one variant of a step; the last active variant of a step cannot stop."""
    step = _step_of(sequence, position)
    variant = next((v for v in step.variants if v.name == name), None)
    if variant is None:
        names = ", ".join(v.name for v in step.variants) or "none"
        raise NotFound(
            f"Step {position} of sequence '{sequence.name}' has no variant '{name}' (it has: {names})."
        )
    if variant.stopped == stopped:
        return
    if stopped and not [v for v in step.variants if not v.stopped and v.name != name]:
        raise SequenceError(
            f"Variant '{name}' is the last one of step {position} still in use; new leads need one. "
            "Resume another variant first, or load the sequence without this one."
        )
    async with write_transaction():
        await SequenceVariantRow.update(
            {SequenceVariantRow.stopped: stopped, SequenceVariantRow.updated_at: utcnow()}
        ).where(
            (SequenceVariantRow.sequence == sequence.id)
            & (SequenceVariantRow.position == position)
            & (SequenceVariantRow.name == name)
        )
        await audit.record(
            "sequence",
            sequence.id,
            "variant_stopped" if stopped else "variant_resumed",
            actor,
            old={"step": position, "variant": name, "stopped": not stopped},
            new={"step": position, "variant": name, "stopped": stopped},
        )
