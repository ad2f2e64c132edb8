"""A sequence's figures per step and variant, and whether variants' reply rates really differ.

Counted in SQL from the emails and their tracking events:

- ``sent``: emails that left through their sender (a bounced one did leave);
- ``delivered``: sent and not bounced;
- ``opened`` / ``clicked``: emails a person opened or clicked (image proxies and link
  scanners are recorded but flagged, and not counted; a click proves an open);
- ``replied``: emails answered (any category, auto-replies aside);
- ``bounced``, ``unsubscribed``: emails that bounced, or through which the recipient
  unsubscribed.

Rates are shares of ``sent``. Variants of one step are compared on reply rate with a
two-proportion z-test (pooled, two-sided), the leader against the runner-up, once each has
sent at least :data:`MIN_SENT`; below that the verdict is "not enough data yet".
"""

from __future__ import annotations

import math

import msgspec

from ..models import Sequence
from ..states import LEFT_STATES, EmailState
from ..store.tables import EmailRow

#: Each compared variant must have sent this many before a verdict is given.
MIN_SENT = 30
#: A difference is called significant below this p-value.
ALPHA = 0.05

_FIGURES = ("sent", "delivered", "opened", "clicked", "replied", "bounced", "unsubscribed")
_REPLIED = (EmailState.REPLIED, EmailState.CATEGORIZED)


def _in(values: tuple[str, ...]) -> str:
    # Fixed enum values, never user input: safe to inline.
    return ", ".join(f"'{value}'" for value in values)


class VariantFigures(msgspec.Struct, kw_only=True):
    """One variant's (or a step without variants': ``variant`` None) counts and rates."""

    variant: str | None
    weight: float | None = None
    stopped: bool = False
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    replied: int = 0
    bounced: int = 0
    unsubscribed: int = 0
    #: Each count as a share of ``sent`` (0 when nothing was sent).
    rates: dict[str, float] = {}


class Comparison(msgspec.Struct, kw_only=True):
    """Whether the best variant's reply rate is really above the next one's."""

    #: ``significant``, ``not significant`` or ``not enough data yet``.
    verdict: str
    leader: str | None = None
    runner_up: str | None = None
    p_value: float | None = None
    explanation: str = ""


class StepFigures(msgspec.Struct, kw_only=True):
    """One step: a row per variant and, with two or more, their comparison."""

    step: int
    variants: list[VariantFigures]
    comparison: Comparison | None = None


class SequenceFigures(msgspec.Struct, kw_only=True):
    """Every step of one sequence."""

    sequence: str
    sequence_id: int
    steps: list[StepFigures]


def two_proportion_p_value(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float | None:
    """The two-sided p-value of a pooled two-proportion z-test, or None when it is undefined."""
    if n_a <= 0 or n_b <= 0:
        return None
    pooled = (hits_a + hits_b) / (n_a + n_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if spread == 0:
        return None
    z = (hits_a / n_a - hits_b / n_b) / spread
    return math.erfc(abs(z) / math.sqrt(2))


def compare(figures: list[VariantFigures], min_sent: int = MIN_SENT) -> Comparison:
    """The verdict on the reply rates of a step's variants."""
    ranked = sorted(figures, key=lambda f: (f.rates.get("replied", 0.0), f.sent), reverse=True)
    leader, runner_up = ranked[0], ranked[1]
    names = {"leader": leader.variant, "runner_up": runner_up.variant}
    short = [f for f in (leader, runner_up) if f.sent < min_sent]
    if short:
        return Comparison(
            verdict="not enough data yet",
            explanation=(
                f"Each variant needs at least {min_sent} sent before a difference can be judged; "
                + ", ".join(f"'{f.variant}' has {f.sent}" for f in short)
                + "."
            ),
            **names,
        )
    p = two_proportion_p_value(leader.replied, leader.sent, runner_up.replied, runner_up.sent)
    if p is None:
        return Comparison(
            verdict="not enough data yet",
            explanation="No variant has a reply yet (or every email got one): nothing to compare.",
            **names,
        )
    if p < ALPHA:
        return Comparison(
            verdict="significant",
            p_value=p,
            explanation=(
                f"'{leader.variant}' gets more replies than '{runner_up.variant}' "
                f"(p = {p:.3f}, below {ALPHA}): unlikely to be chance."
            ),
            **names,
        )
    return Comparison(
        verdict="not significant",
        p_value=p,
        explanation=(
            f"The difference between '{leader.variant}' and '{runner_up.variant}' could be chance "
            f"(p = {p:.3f}); keep sending both."
        ),
        **names,
    )


async def _counts(sequence_id: int) -> dict[tuple[int, str | None], dict[str, int]]:
    rows = await EmailRow.raw(
        "SELECT e.step_number AS step, e.variant AS variant, "
        f"SUM(CASE WHEN e.state IN ({_in(LEFT_STATES)}) THEN 1 ELSE 0 END) AS sent, "
        f"SUM(CASE WHEN e.state IN ({_in(LEFT_STATES)}) AND e.state != '{EmailState.BOUNCED}' "
        "THEN 1 ELSE 0 END) AS delivered, "
        "SUM(CASE WHEN EXISTS (SELECT 1 FROM tracking_events t WHERE t.email = e.id AND NOT t.flagged) "
        "THEN 1 ELSE 0 END) AS opened, "
        "SUM(CASE WHEN EXISTS (SELECT 1 FROM tracking_events t WHERE t.email = e.id AND NOT t.flagged "
        "AND t.kind = 'click') THEN 1 ELSE 0 END) AS clicked, "
        f"SUM(CASE WHEN e.state IN ({_in(_REPLIED)}) THEN 1 ELSE 0 END) AS replied, "
        f"SUM(CASE WHEN e.state = '{EmailState.BOUNCED}' THEN 1 ELSE 0 END) AS bounced, "
        "SUM(CASE WHEN e.unsubscribed_at IS NOT NULL THEN 1 ELSE 0 END) AS unsubscribed "
        "FROM emails e WHERE e.sequence_id = {} GROUP BY e.step_number, e.variant",
        sequence_id,
    )
    return {(r["step"], r["variant"]): {name: int(r[name] or 0) for name in _FIGURES} for r in rows}


def _figures(variant: str | None, counts: dict[str, int], **extra: object) -> VariantFigures:
    sent = counts.get("sent", 0)
    rates = {name: (counts.get(name, 0) / sent if sent else 0.0) for name in _FIGURES if name != "sent"}
    return VariantFigures(variant=variant, rates=rates, **counts, **extra)  # type: ignore[arg-type]


async def sequence_figures(sequence: Sequence, min_sent: int = MIN_SENT) -> SequenceFigures:
    """Figures of every step of ``sequence``, per variant, with the variants compared."""
    counts = await _counts(sequence.id)
    steps = []
    for step in sequence.steps:
        rows = [
            _figures(v.name, counts.pop((step.position, v.name), {}), weight=v.weight, stopped=v.stopped)
            for v in step.variants
        ]
        # Emails of variants no longer in the file, and of the step before it had variants.
        for (position, name), left in sorted(
            ((key, value) for key, value in counts.items() if key[0] == step.position),
            key=lambda item: item[0][1] or "",
        ):
            rows.append(_figures(name, left, stopped=name is not None))
            del counts[(position, name)]
        if not rows:
            rows.append(_figures(None, {}))
        with_variants = [row for row in rows if row.variant is not None]
        comparison = compare(with_variants, min_sent) if len(with_variants) >= 2 else None
        steps.append(StepFigures(step=step.position, variants=rows, comparison=comparison))
    return SequenceFigures(sequence=sequence.name, sequence_id=sequence.id, steps=steps)
