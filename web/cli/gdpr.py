"""``outreach gdpr export / erase / purge``: the data held about one address, its erasure, and retention."""

from __future__ import annotations

import click

from outreach.kernel.runtime import Runtime
from outreach.kernel.services import gdpr as service
from outreach.kernel.services.retention import purge_expired

from .common import CLI_ACTOR, echo_json, with_runtime


@click.group("gdpr")
def gdpr() -> None:
    """Data protection: export or erase what is held about an address; apply retention now."""


@gdpr.command("export")
@click.argument("email")
@with_runtime
async def export(rt: Runtime, email: str) -> None:
    """Print as JSON all data held about EMAIL: leads, emails, inbound messages, opens and
    clicks, suppressions, and their audit rows."""
    echo_json(await service.export_data(rt, address=email))


@gdpr.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
@with_runtime
async def erase(rt: Runtime, email: str, yes: bool, as_json: bool) -> None:
    """Remove everything held about EMAIL; only a keyed hash stays on the suppression list,
    so the address is never mailed again."""
    if not yes and not click.confirm(
        f"Erase everything held about {email}? This cannot be undone.", err=True
    ):
        raise click.Abort()
    report = await service.erase_data(rt, address=email, actor=CLI_ACTOR)
    if as_json:
        echo_json(report)
        return
    click.echo(
        f"Erased {report.leads} lead(s), {report.emails} email(s), {report.inbound_messages} inbound "
        f"message(s) and {report.tracking_events} open(s) and click(s); emptied {report.audit_rows} "
        "audit row(s). The address stays on the suppression list as a keyed hash."
    )


@gdpr.command("purge")
@with_runtime
async def purge(rt: Runtime) -> None:
    """Delete now the leads rejected, expired or failed more than [compliance] retention_days ago."""
    count = await purge_expired(rt)
    click.echo(f"Purged {count} lead(s) past {rt.settings.compliance.retention_days} days.")
