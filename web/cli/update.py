"""``outreach self-update``: the desktop binary replaced by the newest release, or put back."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import fail, run, state


def _running_binary() -> Path:
    """The desktop binary running this command; a sentence for an install made with pip."""
    if not getattr(sys, "frozen", False):
        fail(
            "This outreach was installed with pip, not as the desktop app: update it with "
            "`pip install --upgrade outreach` (a database migration is then backed up the same way)."
        )
    return Path(sys.executable).resolve()


@click.command("self-update")
@click.option(
    "--rollback", is_flag=True, help="Go back to the binary (and database) from before the last update."
)
@click.option("--to", "version", metavar="VERSION", help="Install this release instead of the newest.")
@click.pass_context
def self_update(ctx: click.Context, rollback: bool, version: str | None) -> None:
    """Replace the desktop app with the newest release; the current one is kept for --rollback.

    Stop `outreach serve` first: a rollback puts the database back as it was.
    """
    from outreach.kernel import self_update as updater
    from outreach.kernel.updates import UpdateCheck, is_newer, running_version

    binary = _running_binary()
    settings = state(ctx).settings()
    current = running_version()
    if rollback:
        for line in updater.rollback(binary, settings.database_path, current):
            click.echo(line[0].upper() + line[1:] + ".")
        return
    template = settings.updates.download_url
    if not template:
        fail("Set [updates] download_url to where the releases are (with {version} and {platform}).")
    if version is None:
        check = UpdateCheck(
            enabled=True,
            pypi_url=settings.updates.pypi_url,
            cache_dir=settings.data_path / "cache",
            current=current,
        )
        try:
            version, _notes = run(check.latest())
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            fail(f"Could not ask {settings.updates.pypi_url} for the newest release ({reason}).")
        if not is_newer(version, current):
            click.echo(f"outreach {current} is the newest release.")
            return
    previous = run(updater.self_update(binary, template, version))
    click.echo(f"Updated to outreach {version}; the previous binary is kept at {previous}.")
    click.echo("Restart outreach to use it; `outreach self-update --rollback` goes back.")
