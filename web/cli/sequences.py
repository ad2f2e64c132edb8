"""``outreach sequences``, ``enroll`` and ``leads ready``: from approved leads to queued emails."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from outreach.kernel.errors import OutreachError, SequenceError
from outreach.kernel.runtime import Runtime
from outreach.kernel.services import variants
from outreach.kernel.services.sequence_stats import SequenceFigures, sequence_figures
from outreach.kernel.services.sequences import find_variant, step_source
from outreach.kernel.templating import TemplateSource

from .common import (
    CLI_ACTOR,
    Paging,
    echo_header,
    echo_json,
    echo_json_rows,
    paging_options,
    rows_of,
    with_runtime,
)


@click.group("sequences")
def sequences() -> None:
    """Load, list and preview sequences (a first email and its follow-ups)."""


@sequences.command("load")
@click.argument("file", type=click.Path(dir_okay=False))
@with_runtime
async def load(rt: Runtime, file: str) -> None:
    """Load a sequence from FILE.toml (``name``, then ``[[steps]]``); one of the same name is replaced."""
    path = Path(file)
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    except OSError as exc:
        raise SequenceError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    sequence, created = await rt.sequences.load_text(text, actor=CLI_ACTOR, source=str(path))
    verb = "Loaded" if created else "Replaced"
    click.echo(f"{verb} sequence '{sequence.name}' (id {sequence.id}) with {len(sequence.steps)} step(s).")


@sequences.command("list")
@paging_options()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_runtime
async def list_sequences(rt: Runtime, page: int | None, per_page: int | None, as_json: bool) -> None:
    """Every sequence with its steps, by name (or one page of them)."""
    paging = Paging(page, per_page)
    items = await rt.sequences.list()
    if paging.every_row(as_json):
        await echo_json_rows(rows_of(items))
        return
    if paging.given:
        items = paging.slice(items)
    if as_json:
        echo_json(items)
        return
    echo_header(f"{'ID':>4}", "NAME", "STEPS AND ENROLLMENTS")
    for sequence in items:
        counts = await rt.enrollment.counts(sequence.id)
        click.echo(
            f"{sequence.id:>4}  {sequence.name}  {len(sequence.steps)} step(s), "
            f"{counts['active']} active, {counts['finished']} finished, {counts['stopped']} stopped"
        )
        for step in sequence.steps:
            when = "at once" if step.position == 1 and not step.delay_days else f"+{step.delay_days:g} day(s)"
            business = " (business days)" if step.business_days else ""
            click.echo(
                f"        {step.position}. {when}{business}: "
                f"{step.subject if step.position == 1 else 'Re: ...'}"
            )
            for variant in step.variants:
                state = " (stopped)" if variant.stopped else ""
                subject = variant.subject if step.position == 1 else "Re: ..."
                click.echo(f"           variant {variant.name}, weight {variant.weight:g}{state}: {subject}")


@sequences.command("preview")
@click.argument("sequence")
@click.argument("lead_id", type=int)
@click.option("--step", default=1, show_default=True, help="Which step to render.")
@click.option("--mailbox", help="Render as this mailbox would send it.")
@click.option("--variant", help="Render this variant of the step (A/B tests).")
@with_runtime
async def preview(
    rt: Runtime, sequence: str, lead_id: int, step: int, mailbox: str | None, variant: str | None
) -> None:
    """Show SEQUENCE's step rendered for LEAD_ID, exactly as it would be queued."""
    found = await rt.sequences.find(sequence)
    if not 1 <= step <= len(found.steps):
        raise SequenceError(f"Sequence '{found.name}' has steps 1 to {len(found.steps)}.")
    chosen = find_variant(found.steps[step - 1], variant)
    if variant is not None and chosen is None:
        names = ", ".join(v.name for v in found.steps[step - 1].variants) or "none"
        raise SequenceError(f"Step {step} has no variant '{variant}' (it has: {names}).")
    source: TemplateSource = step_source(found.steps[step - 1], chosen)
    if step > 1:
        first = find_variant(found.steps[0], variant) or (found.steps[0].variants or [None])[0]
        subject = step_source(found.steps[0], first).subject
        source = TemplateSource(subject=subject, text=source.text, html=source.html)
    rendered = await rt.templates.preview(source, lead_id, mailbox)
    subject = rendered.subject if step == 1 else f"Re: {rendered.subject}"
    click.echo(f"Subject: {subject}\n\n{rendered.text}")
    if rendered.html:
        click.echo(f"\n--- HTML ---\n{rendered.html}")


def _rate(figures: dict[str, float], name: str) -> str:
    return f"{100 * figures.get(name, 0.0):.1f}%"


def _echo_figures(figures: SequenceFigures) -> None:
    click.echo(f"Sequence '{figures.sequence}'")
    for step in figures.steps:
        click.echo(f"\nStep {step.step}")
        echo_header(
            f"{'VARIANT':<14}",
            f"{'SENT':>6}",
            f"{'DELIVERED':>10}",
            f"{'OPENED':>13}",
            f"{'CLICKED':>13}",
            f"{'REPLIED':>13}",
            f"{'BOUNCED':>13}",
            f"{'UNSUBSCRIBED':>13}",
        )
        for row in step.variants:
            name = (row.variant or "(no variant)") + (" stopped" if row.stopped else "")
            cells = [
                f"{getattr(row, field)} {_rate(row.rates, field):>6}"
                for field in ("opened", "clicked", "replied", "bounced", "unsubscribed")
            ]
            click.echo(
                f"{name:<14}  {row.sent:>6}  {row.delivered:>10}  " + "  ".join(f"{c:>13}" for c in cells)
            )
        if step.comparison is not None:
            click.echo(f"Reply rate: {step.comparison.verdict}. {step.comparison.explanation}")


@sequences.command("stats")
@click.argument("sequence")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON: per step, per variant, with the comparison."
)
@with_runtime
async def stats(rt: Runtime, sequence: str, as_json: bool) -> None:
    """SEQUENCE's figures per step and variant: sent, delivered, opened, clicked, replied, bounced,
    unsubscribed, with rates, and whether the variants' reply rates really differ."""
    figures = await sequence_figures(await rt.sequences.find(sequence))
    if as_json:
        echo_json(figures)
    else:
        _echo_figures(figures)


def _variant_command(stopped: bool) -> click.Command:
    verb = "stop" if stopped else "resume"

    @click.argument("sequence")
    @click.argument("step", type=int)
    @click.argument("variant")
    @with_runtime
    async def command(rt: Runtime, sequence: str, step: int, variant: str) -> None:
        found = await rt.sequences.find(sequence)
        await variants.set_stopped(found, step, variant, stopped, actor=CLI_ACTOR)
        click.echo(
            f"Variant '{variant}' of step {step} of '{found.name}' "
            + ("is stopped: new emails use the other variants." if stopped else "is in use again.")
        )

    command.__doc__ = (
        "Stop VARIANT of STEP of SEQUENCE: its emails and figures stay, new emails use the others."
        if stopped
        else "Resume VARIANT of STEP of SEQUENCE, so new emails may use it again."
    )
    return sequences.command(f"{verb}-variant")(command)


stop_variant = _variant_command(True)
resume_variant = _variant_command(False)


@click.command("enroll")
@click.argument("sequence")
@click.argument("lead_ids", nargs=-1, type=int)
@click.option("--all-ready", is_flag=True, help="Enroll every lead that is ready_for_outreach.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON: enrolled (lead id -> email id) and skipped."
)
@with_runtime
async def enroll(
    rt: Runtime, sequence: str, lead_ids: tuple[int, ...], all_ready: bool, as_json: bool
) -> None:
    """Enroll leads in SEQUENCE, queueing each one's first email (rendered now, sent by the worker)."""
    if all_ready == bool(lead_ids):
        raise SequenceError("Give lead ids or --all-ready (not both).")
    result = await rt.enrollment.enroll(sequence, None if all_ready else list(lead_ids), actor=CLI_ACTOR)
    if as_json:
        echo_json(result)
        return
    click.echo(f"Enrolled {len(result.enrolled)} lead(s); {len(result.skipped)} skipped.")
    for lead_id, reason in sorted(result.skipped.items()):
        click.echo(f"  lead {lead_id}: {reason}", err=True)


@click.command("ready")
@click.argument("lead_ids", nargs=-1, type=int)
@click.option("--all-approved", is_flag=True, help="Every approved lead.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: changed and skipped.")
@with_runtime
async def ready(rt: Runtime, lead_ids: tuple[int, ...], all_approved: bool, as_json: bool) -> None:
    """Move approved leads with an email address to ready_for_outreach (the rest stay, with the reason)."""
    if all_approved == bool(lead_ids):
        raise OutreachError("Give lead ids or --all-approved (not both).")
    result = await rt.enrollment.mark_ready(None if all_approved else list(lead_ids), actor=CLI_ACTOR)
    if as_json:
        echo_json(result)
        return
    click.echo(f"{len(result.changed)} lead(s) ready for outreach; {len(result.skipped)} stay.")
    for lead_id, reason in sorted(result.skipped.items()):
        click.echo(f"  lead {lead_id}: {reason}", err=True)
