"""``outreach mail classify`` (what outreach makes of raw messages, for debugging a mailbox) and
``outreach mail fetch`` (read every reply source once, in the foreground)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from outreach.kernel.mail.analysis import analyze_message
from outreach.kernel.plugins import build_plugin_host
from outreach.kernel.runtime import Runtime

from .common import echo_json, fail, run, state, with_runtime


@click.group("mail")
def mail() -> None:
    """Read and inspect inbound mail."""


@mail.command("classify")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.pass_context
def classify(ctx: click.Context, files: tuple[str, ...]) -> None:
    """Print as JSON what outreach makes of each raw message FILE (.eml).

    For each: kind (bounce, auto_reply or reply); for a bounce, each bounced
    recipient with its status, reply code, hard or soft, and reason; for a reply or
    auto-reply, its category (and return date for out-of-office), and the reply text.
    """
    host = build_plugin_host(state(ctx).settings())
    classifiers = list(host.reply_classifiers)

    async def main() -> list[dict[str, Any]]:
        reports = []
        for name in files:
            try:
                raw = await asyncio.to_thread(Path(name).read_bytes)
            except OSError as exc:
                reports.append({"file": name, "error": f"cannot be read: {exc.strerror}"})
                continue
            analysis = await analyze_message(raw, classifiers)
            reports.append({"file": name, **analysis.to_report()})
        return reports

    reports = run(main())
    echo_json(reports)
    unreadable = [r["file"] for r in reports if "error" in r]
    if unreadable:
        fail(f"{len(unreadable)} file(s) could not be read: {', '.join(unreadable)}")


@mail.command("fetch")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_runtime
async def fetch(rt: Runtime, as_json: bool) -> None:
    """Read every reply source once (IMAP accounts, Gmail inboxes) and act on what came in."""
    result = await rt.poller.poll_once()
    if as_json:
        echo_json(result)
    else:
        click.echo(
            f"Read {result.read} message(s): {result.processed} new, {result.skipped} seen before; "
            f"{len(rt.plugins.reply_sources)} source(s)."
        )
        for name, error in result.failed.items():
            click.echo(f"  {name}: {error}", err=True)
    if result.failed:
        fail(f"{len(result.failed)} reply source(s) could not be read.")
