"""``outreach keys rotate``: re-encrypt personal data under a fresh key."""

from __future__ import annotations

import click

from outreach.kernel.runtime import Runtime
from outreach.kernel.services.keys import rotate_keys

from .common import CLI_ACTOR, with_runtime


@click.group("keys")
def keys() -> None:
    """Manage the key that encrypts personal data at rest."""


@keys.command("rotate")
@click.option(
    "--print-new-key",
    is_flag=True,
    help="When the key comes from OUTREACH_DATA_KEY: rotate anyway and print the new value to set there.",
)
@with_runtime
async def rotate(rt: Runtime, print_new_key: bool) -> None:
    """Re-encrypt every stored address, phone and name under a fresh key.

    Stop `outreach serve` and any `outreach worker` first: they hold the old key.
    """
    report = await rotate_keys(rt, actor=CLI_ACTOR, allow_env=print_new_key)
    total = sum(report.rows.values())
    click.echo(f"Re-encrypted {total} row(s) under a new key ({report.key_source}).", err=True)
    if report.new_key_material:
        click.echo("Set OUTREACH_DATA_KEY to this value before starting outreach again:", err=True)
        click.echo(report.new_key_material)
