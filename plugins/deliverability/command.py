"""``outreach doctor [--json]``: the doctor's report on the command line.

``register_commands`` is given no plugin context, so the command reads the settings
the ``outreach`` group loaded for this run (``--config``, ``OUTREACH_CONFIG``)
through the click context, and builds its own :class:`PluginContext` from them.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click
import msgspec

from outreach.kernel import ConfigError, PluginContext

from .doctor import Doctor, overall
from .options import DeliverabilityOptions

_COLOURS = {"ok": "green", "warn": "yellow", "fail": "red"}


def _settings(ctx: click.Context) -> Any:
    state = ctx.find_root().obj
    settings = getattr(state, "settings", None)
    if not callable(settings):
        raise ConfigError("outreach doctor runs as a subcommand of `outreach`, which reads the config.")
    return settings()


def add_doctor(cli: click.Group) -> None:
    """Add ``outreach doctor`` to ``cli``."""

    @cli.command("doctor")
    @click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
    @click.pass_context
    def doctor(ctx: click.Context, as_json: bool) -> None:
        """Check each mailbox's domain: SPF, DKIM, DMARC, MX and the SMTP server's TLS, with fixes."""
        context = PluginContext(_settings(ctx))
        options = context.plugin_options("deliverability", DeliverabilityOptions)
        reports = asyncio.run(Doctor(context, options).examine_all())
        if as_json:
            click.echo(msgspec.json.encode(reports).decode())
        else:
            for report in reports:
                click.secho(
                    f"{report.mailbox}: {report.from_address} ({report.domain}, sender {report.backend})",
                    bold=True,
                )
                for finding in report.findings:
                    label = click.style(f"{finding.status:<4}", fg=_COLOURS[finding.status])
                    click.echo(f"  {label} {finding.group.upper():<5} {finding.summary}")
                    if finding.fix:
                        click.echo(f"       {'':<5} fix: {finding.fix}")
        if any(overall(report) == "fail" for report in reports):
            sys.exit(1)
