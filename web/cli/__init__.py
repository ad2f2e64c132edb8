"""The ``outreach`` command line.

Commands are grouped by what they act on (``leads``, ``jobs``, ``db``...). Plugins add
their own through the ``register_commands`` hook. Every error is printed as a
sentence on stderr with a non-zero exit code; there are no tracebacks (an unexpected
error's goes to the log file). A pipe closed early (``outreach leads list | head -1``)
ends the command quietly with exit status 141, as a shell reports for ``ls | head``.

Each command's module is imported only when that command runs, and the plugins only
when a name no built-in command has is asked for, so ``outreach --help`` imports click
and little else.
"""

from __future__ import annotations

from typing import Any

import click

from .common import CliState, errors_as_sentences, state
from .lazy import LazyCommand, LazyGroup

#: The built-in commands: name -> module, attribute, and the first sentence of its help.
COMMANDS: dict[str, LazyCommand] = {
    "analyze": LazyCommand(
        ".analyze",
        "analyze",
        "Analyze leads: read each website, check each address, score them; they then await review.",
    ),
    "config": LazyCommand(".admin", "config", "Inspect the configuration."),
    "db": LazyCommand(".admin", "db", "Manage the database."),
    "discover": LazyCommand(
        ".discover",
        "discover",
        'Find businesses matching QUERY (for example "dentists") and store them as leads.',
    ),
    "enroll": LazyCommand(
        ".sequences",
        "enroll",
        "Enroll leads in SEQUENCE, queueing each one's first email (rendered now, sent by the worker).",
    ),
    "gdpr": LazyCommand(
        ".gdpr",
        "gdpr",
        "Data protection: export or erase what is held about an address; apply retention now.",
    ),
    "jobs": LazyCommand(".jobs", "jobs", "See, resume and cancel jobs."),
    "keys": LazyCommand(".keys", "keys", "Manage the key that encrypts personal data at rest."),
    "leads": LazyCommand(".leads", "leads", "Import, list, show and review leads."),
    "mail": LazyCommand(".mail", "mail", "Read and inspect inbound mail."),
    "mailboxes": LazyCommand(".sending", "mailboxes", "The sender identities and their sending policy."),
    "outbox": LazyCommand(".sending", "outbox", "List outgoing emails and act on one."),
    "plugins": LazyCommand(
        ".admin", "plugins", "List installed plugins: version, hooks implemented, what each registered."
    ),
    "send": LazyCommand(
        ".sending",
        "send",
        "Send what is due, in the foreground (one batch, or with --until-idle until nothing is due).",
    ),
    "sequences": LazyCommand(
        ".sequences", "sequences", "Load, list and preview sequences (a first email and its follow-ups)."
    ),
    "self-update": LazyCommand(
        ".update",
        "self_update",
        "Replace the desktop app with the newest release; the current one is kept for --rollback.",
    ),
    "serve": LazyCommand(".serve", "serve", "Run the web app (with the job runner) until interrupted."),
    "worker": LazyCommand(
        ".serve",
        "worker",
        "Run background work (jobs, the outbox, inbound mail) without the web app, until SIGTERM or Ctrl+C.",
    ),
}


def add_plugin_commands(ctx: click.Context, group: click.Group) -> None:
    """Let plugins add their commands; a broken config only loses them (``No such command``)."""
    from outreach.kernel.errors import OutreachError
    from outreach.kernel.plugins import build_plugin_host

    # Asked while click resolves the command name: the global options are parsed, not yet stored.
    params = ctx.find_root().params
    probe = CliState(config=params.get("config_path"), data_dir=params.get("data_dir"))
    try:
        host = build_plugin_host(probe.settings())
    except OutreachError:
        return
    host.add_commands(group)


class OutreachGroup(LazyGroup):
    """The top-level group: lazy commands, plugin commands, errors as sentences."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; what escapes it is a sentence, a closed pipe a quiet exit."""
        with errors_as_sentences():
            return super().invoke(ctx)


@click.group(
    cls=OutreachGroup,
    lazy=COMMANDS,
    fallback=add_plugin_commands,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Plugins' commands are not listed (listing them loads every plugin); run them by name.",
)
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


def main() -> None:
    """Entry point of the ``outreach`` console script."""
    cli(standalone_mode=True)


__all__ = ["cli", "main"]
