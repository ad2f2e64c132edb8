"""``outreach sequences``, ``enroll`` and ``leads ready``: from approved leads to queued emails."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from outreach.kernel.errors import OutreachError, SequenceError
from outreach.kernel.runtime import Runtime
from outreach.kernel.services.sequences import step_source
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


@sequences.command("preview")
@click.argument("sequence")
@click.argument("lead_id", type=int)
@click.option("--step", default=1, show_default=True, help="Which step to render.")
@click.option("--mailbox", help="Render as this mailbox would send it.")
@with_runtime
async def preview(rt: Runtime, sequence: str, lead_id: int, step: int, mailbox: str | None) -> None:
    """Show SEQUENCE's step rendered for LEAD_ID, exactly as it would be queued."""
    found = await rt.sequences.find(sequence)
    if not 1 <= step <= len(found.steps):
        raise SequenceError(f"Sequence '{found.name}' has steps 1 to {len(found.steps)}.")
    source: TemplateSource = step_source(found.steps[step - 1])
    if step > 1:
        source = TemplateSource(subject=found.steps[0].subject, text=source.text, html=source.html)
    rendered = await rt.templates.preview(source, lead_id, mailbox)
    subject = rendered.subject if step == 1 else f"Re: {rendered.subject}"
    click.echo(f"Subject: {subject}\n\n{rendered.text}")
    if rendered.html:
        click.echo(f"\n--- HTML ---\n{rendered.html}")


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
