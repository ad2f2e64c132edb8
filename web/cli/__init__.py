"""The ``outreach`` command line.

Commands are grouped by what they act on (``leads``, ``jobs``, ``db``...). Plugins add
their own through the ``register_commands`` hook. Every error is printed as a
sentence on stderr with a non-zero exit code; there are no tracebacks.
"""

from __future__ import annotations

import sys

import click

from outreach.kernel.errors import OutreachError
from outreach.kernel.plugins import build_plugin_host

from . import admin, analyze, discover, gdpr, jobs, keys, leads, mail, sending, sequences, serve
from .common import CliState, fail, state


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="OUTREACH_CONFIG",
    help="The outreach.toml to use.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    envvar="OUTREACH_DATA_DIR",
    help="Where the database, logs and outbox live.",
)
@click.option("-v", "--verbose", is_flag=True, help="Show debug logging on the console.")
@click.version_option(package_name="outreach")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, data_dir: str | None, verbose: bool) -> None:
    """outreach: find local businesses, learn about them, review them, and write to them."""
    cli_state = state(ctx)
    cli_state.config, cli_state.data_dir, cli_state.verbose = config_path, data_dir, verbose


for command in (
    serve.serve,
    serve.worker,
    admin.plugins,
    admin.config,
    admin.db,
    discover.discover,
    leads.leads,
    analyze.analyze,
    jobs.jobs,
    mail.mail,
    keys.keys,
    gdpr.gdpr,
):
    cli.add_command(command)
for command in (sequences.sequences, sequences.enroll, sending.send, sending.outbox, sending.mailboxes):
    cli.add_command(command)
leads.leads.add_command(sequences.ready)


def _add_plugin_commands(argv: list[str]) -> None:
    """Let plugins add commands; a broken config only loses them (the command reports it)."""
    probe = CliState()
    for flag, attr in (("--config", "config"), ("--data-dir", "data_dir")):
        if flag in argv[:-1]:
            setattr(probe, attr, argv[argv.index(flag) + 1])
    try:
        host = build_plugin_host(probe.settings())
    except OutreachError:
        return
    host.add_commands(cli)


def main() -> None:
    """Entry point of the ``outreach`` console script."""
    _add_plugin_commands(sys.argv[1:])
    try:
        cli(standalone_mode=True)
    except OutreachError as exc:
        fail(str(exc))


__all__ = ["cli", "main"]
