"""``outreach leads``: import, list, show, tag, export and change the state of leads."""

from __future__ import annotations

from collections.abc import AsyncIterator

import click
import msgspec

from outreach.kernel.contracts import DiscoveryQuery
from outreach.kernel.errors import ConfigError
from outreach.kernel.models import Lead
from outreach.kernel.runtime import Runtime
from outreach.kernel.services.discovery import submit_discovery
from outreach.kernel.services.leads import LeadDetail, LeadQuery
from outreach.kernel.states import LeadState
from outreach.kernel.store.engine import read_transaction
from outreach.kernel.timezones import recipient_timezone

from .common import (
    BATCH,
    CLI_ACTOR,
    Paging,
    echo_header,
    echo_json,
    echo_json_rows,
    fail,
    paging_options,
    with_runtime,
    with_store,
)
from .lead_lists import export_leads, tag_leads, tag_option
from .progress import run_job_with_bar
from .sequences import ready


@click.group("leads")
def leads() -> None:
    """Import, list, show and review leads."""


def _mapping(pairs: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        field, sep, header = pair.partition("=")
        if not sep or not field.strip() or not header.strip():
            raise ConfigError(f"--map takes FIELD=HEADER (for example business_name=Company), not '{pair}'.")
        mapping[field.strip()] = header.strip()
    return mapping


@leads.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--map", "mapping", multiple=True, metavar="FIELD=HEADER", help="Read FIELD from column HEADER."
)
@click.option("--json", "as_json", is_flag=True, help="Print the job's outcome as JSON.")
@with_runtime
async def import_csv(rt: Runtime, file: str, mapping: tuple[str, ...], as_json: bool) -> None:
    """Import leads from a CSV FILE; bad rows are reported by line, good rows import."""
    query = DiscoveryQuery(query=file, options={"mapping": _mapping(mapping)})
    job = await submit_discovery(rt, "csv", query, actor=CLI_ACTOR)
    job = await run_job_with_bar(rt, job, f"Importing {file}")
    if as_json:
        echo_json(job)
    else:
        counters = job.counters
        click.echo(
            f"Imported {file}: {counters.get('created', 0)} new, {counters.get('updated', 0)} updated, "
            f"{counters.get('unchanged', 0)} unchanged, {counters.get('skipped', 0)} skipped."
        )
        for problem in job.report:
            where = f"line {problem['line']}: " if "line" in problem else ""
            click.echo(f"  {where}{problem['message']}", err=True)
    if job.state != "succeeded":
        fail(job.error or f"The import ended {job.state}.")


@leads.command("list")
@click.option("--state", type=click.Choice([s.value for s in LeadState]), help="Only leads in this state.")
@click.option("--search", "text", help="Only leads whose name, category, address or website contains this.")
@click.option("--tag", help="Only leads with this tag.")
@paging_options()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the seed schema's field names).")
@with_store
async def list_leads(
    rt: Runtime,
    state: str | None,
    text: str | None,
    tag: str | None,
    page: int | None,
    per_page: int | None,
    as_json: bool,
) -> None:
    """List leads, by id: a page of them, or with --json every one."""
    query, paging = LeadQuery(state=state, text=text, tag=tag_option(tag)), Paging(page, per_page)
    if paging.every_row(as_json):
        await echo_json_rows(every_lead(rt, query))
        return
    result = await rt.leads.list(msgspec.structs.replace(query, page=paging.number, per_page=paging.size))
    if as_json:
        echo_json(result.items)
        return
    echo_header(f"{'ID':>6}", f"{'STATE':<18}", "NAME", "LOCATION")
    for lead in result.items:
        tags = f"  [{', '.join(lead.tags)}]" if lead.tags else ""
        click.echo(
            f"{lead.id:>6}  {lead.lifecycle_state:<18}  {lead.business_name}  {lead.location or ''}{tags}"
        )
    click.echo(f"({len(result.items)} of {result.total}, page {result.page} of {result.pages})", err=True)


async def every_lead(rt: Runtime, query: LeadQuery) -> AsyncIterator[Lead]:
    """Every lead matching ``query``, read a batch at a time from one snapshot of the database."""
    async with read_transaction():
        page = 1
        while True:
            batch = await rt.leads.list(msgspec.structs.replace(query, page=page, per_page=BATCH))
            for lead in batch.items:
                yield lead
            if len(batch.items) < batch.per_page:  # the service may cap a page below BATCH
                return
            page += 1


@leads.command("show")
@click.argument("lead_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_store
async def show_lead(rt: Runtime, lead_id: int, as_json: bool) -> None:
    """Show everything held about one lead: discovery data, enrichment, emails, audit trail."""
    detail = await rt.leads.detail(lead_id)
    if as_json:
        echo_json(
            {
                **msgspec.to_builtins(detail.lead),
                "timezone": _recipient_timezone(rt, detail),
                "emails": detail.emails,
                "audit_trail": detail.audit,
            }
        )
        return
    lead = detail.lead
    click.echo(f"#{lead.id} {lead.business_name}  [{lead.lifecycle_state}, version {lead.version}]")
    for name in (
        "category",
        "location",
        "phone",
        "email",
        "website_url",
        "maps_url",
        "rating",
        "review_count",
        "score",
    ):
        value = getattr(lead, name)
        if value not in (None, ""):
            click.echo(f"  {name}: {value}")
    if lead.enrichment:
        click.echo("  enrichment: " + ", ".join(sorted(lead.enrichment)))
    click.echo(f"  emails: {len(detail.emails)}")
    click.echo("  audit trail:")
    for entry in detail.audit:
        click.echo(f"    {entry.created_at:%Y-%m-%d %H:%M:%S}  {entry.actor:<16} {entry.action}")


def _recipient_timezone(rt: Runtime, detail: LeadDetail) -> str:
    """The timezone outreach sends to the lead in, as enrollment reckons it.

    The fallback is the timezone of the mailbox that writes to the lead: the one of its
    emails, or (not yet enrolled) the first configured.
    """
    configured = rt.mailboxes.names()
    mailboxes = [e.mailbox for e in detail.emails if e.mailbox in configured]
    return recipient_timezone(detail.lead, rt.mailboxes.timezone_of((mailboxes or configured)[0]))


@leads.command("set-state")
@click.argument("lead_id", type=int)
@click.argument("new_state", metavar="STATE", type=click.Choice([s.value for s in LeadState]))
@click.option("--reason", help="Why, recorded in the audit log.")
@with_runtime
async def set_state(rt: Runtime, lead_id: int, new_state: str, reason: str | None) -> None:
    """Move a lead to STATE (only moves the state machine allows)."""
    lead = await rt.leads.transition(lead_id, new_state, actor=CLI_ACTOR, reason=reason)
    click.echo(f"Lead {lead.id} is now {lead.lifecycle_state}.")


leads.add_command(ready)
leads.add_command(tag_leads)
leads.add_command(export_leads)
