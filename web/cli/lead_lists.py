"""``outreach leads tag`` and ``outreach leads export``: tagging leads and writing them to a file."""

from __future__ import annotations

from pathlib import Path

import click

from outreach.kernel.errors import InvalidInput
from outreach.kernel.runtime import Runtime
from outreach.kernel.services.lead_export import FORMATS, ExportCount, export_chunks, record_export
from outreach.kernel.services.lead_tags import normalize_tag
from outreach.kernel.services.leads import LeadQuery
from outreach.kernel.states import LeadState

from .common import CLI_ACTOR, fail, with_runtime


def tag_option(value: str | None) -> str | None:
    """The ``--tag`` filter normalized, or a usage error saying what is wrong with it."""
    if value is None:
        return None
    try:
        return normalize_tag(value)
    except InvalidInput as exc:
        raise click.BadParameter(str(exc), param_hint="--tag") from exc


@click.command("tag")
@click.argument("lead_ids", metavar="ID...", nargs=-1, required=True, type=click.IntRange(min=1))
@click.option("--add", "add", multiple=True, metavar="TAG", help="Add TAG (repeat for several).")
@click.option("--remove", "remove", multiple=True, metavar="TAG", help="Remove TAG (repeat for several).")
@with_runtime
async def tag_leads(
    rt: Runtime, lead_ids: tuple[int, ...], add: tuple[str, ...], remove: tuple[str, ...]
) -> None:
    """Add and remove tags on the leads with these IDs (audited)."""
    if not add and not remove:
        fail("Say which tags to change: --add TAG, --remove TAG, or both.")
    result = await rt.leads.change_tags(lead_ids, add=add, remove=remove, actor=CLI_ACTOR)
    changed = len(result.changed)
    click.echo(f"Changed the tags of {changed} lead{'' if changed == 1 else 's'}.")
    for lead_id, reason in sorted(result.skipped.items()):
        click.echo(f"  {lead_id}: {reason}", err=True)
    if result.skipped and not result.changed:
        fail("No lead's tags changed.")


@click.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--state", type=click.Choice([s.value for s in LeadState]), help="Only leads in this state.")
@click.option("--tag", help="Only leads with this tag.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@with_runtime
async def export_leads(rt: Runtime, file: Path, state: str | None, tag: str | None, fmt: str) -> None:
    """Write the leads (decrypted) to FILE as CSV for Excel (UTF-8 with BOM) or JSON."""
    query = LeadQuery(state=state, tag=tag_option(tag))
    counted = ExportCount()
    # Written beside FILE and moved over it at the end, so a failed export leaves no half file.
    partial = file.with_name(file.name + ".part")
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            async for chunk in export_chunks(rt, query, fmt, counted):
                out.write(chunk)
        partial.replace(file)
    finally:
        partial.unlink(missing_ok=True)
    rows = counted.rows
    await record_export(query, fmt, rows, actor=CLI_ACTOR)
    click.echo(f"Exported {rows} lead{'' if rows == 1 else 's'} to {file}.")
