"""``outreach send``, ``outreach outbox`` and ``outreach mailboxes``: the outbox from the command line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import click
import msgspec

from outreach.kernel.models import Email
from outreach.kernel.runtime import Runtime
from outreach.kernel.services.emails import written_to_file
from outreach.kernel.services.outbox import actions
from outreach.kernel.services.outbox.dry_run import HOLD_STRANDED, Hold, explain, holds, waiting_summary
from outreach.kernel.states import EmailState
from outreach.kernel.store.engine import read_transaction

from .common import (
    BATCH,
    CLI_ACTOR,
    Paging,
    echo_header,
    echo_json,
    echo_json_rows,
    paging_options,
    rows_of,
    with_runtime,
)


@click.command("send")
@click.option("--until-idle", is_flag=True, help="Keep sending until nothing more is due now, then exit.")
@click.option(
    "--dry-run", is_flag=True, help="Show what would go out now and why the rest waits; send nothing."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_runtime
async def send(rt: Runtime, until_idle: bool, dry_run: bool, as_json: bool) -> None:
    """Send what is due, in the foreground (one batch, or with --until-idle until nothing is due)."""
    if dry_run:
        report = await explain(rt)
        if as_json:
            echo_json(report)
            return
        going = [i for i in report.items if i.action == "send"]
        click.echo(f"Now ({report.now:%Y-%m-%d %H:%M} UTC): {len(going)} email(s) would go out.")
        for item in report.items:
            where = f"{item.mailbox} via {item.sender}" if item.sender else f"{item.mailbox}"
            if item.action == "send":
                click.echo(
                    f"  send   #{item.email_id} (lead {item.lead_id}, step {item.step_number}) from {where}"
                )
                for warning in item.warnings:
                    click.echo(f"         warning: {warning}")
            else:
                until = f" until {item.until:%Y-%m-%d %H:%M} UTC" if item.until else ""
                where_from = f"#{item.email_id} (lead {item.lead_id}, step {item.step_number})"
                hold = f" [{item.hold}]" if item.hold else ""
                click.echo(f"  {item.action:<6} {where_from}{hold}: {item.reason}{until}")
        for limit in report.limits:
            click.echo(f"  limit: {limit}")
        if report.followups_due:
            click.echo(f"  {report.followups_due} follow-up(s) are due to be queued.")
        return
    worker = rt.outbox
    stats = await (worker.run_until_idle() if until_idle else worker.run_until_idle(max_rounds=1))
    # The round's "waiting" counts only due emails it looked at; the queue says what all wait for.
    summary = await waiting_summary(rt)
    if as_json:
        echo_json({**msgspec.to_builtins(stats), "queued": summary.queued, "holds": summary.holds})
        return
    click.echo(
        f"Sent {stats.sent}, retrying {stats.retried}, failed {stats.failed}, blocked {stats.blocked}, "
        f"deferred {stats.deferred}, cancelled {stats.cancelled}, unknown outcome {stats.uncertain}; "
        f"{summary.sentence()}."
    )


@click.group("outbox")
def outbox() -> None:
    """List outgoing emails and act on one."""


@outbox.command("list")
@click.option("--state", type=click.Choice([s.value for s in EmailState]), help="Only emails in this state.")
@click.option("--attention", is_flag=True, help="Only the emails that need a person (interrupted sends).")
@paging_options()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_runtime
async def list_emails(
    rt: Runtime, state: str | None, attention: bool, page: int | None, per_page: int | None, as_json: bool
) -> None:
    """Outgoing emails, newest first: a page of them, or with --json every one."""
    needs_attention, paging = True if attention else None, Paging(page, per_page)
    if paging.every_row(as_json):
        await echo_json_rows(_every_email(rt, state, needs_attention))
        return
    result = await rt.emails.list(state, paging.number, paging.size, needs_attention=needs_attention)
    found = await holds(rt, result.items)
    if as_json:
        echo_json([_listed(email, found.get(email.id)) for email in result.items])
        return
    echo_header(f"{'ID':>6}", f"{'STATE':<10} {'LEAD':<11} {'STEP':<6}", "MAILBOX", "SUBJECT")
    for email in result.items:
        flag = " [needs attention]" if email.needs_attention else ""
        flag += " [written to a file]" if written_to_file(email) else ""
        due = f" due {email.due_at:%Y-%m-%d %H:%M}" if email.state == "queued" and email.due_at else ""
        click.echo(
            f"{email.id:>6}  {email.state:<10} lead {email.lead_id:<6} step {email.step_number}  "
            f"{email.mailbox or ''}{due}  {email.subject}{flag}"
        )
        hold = found.get(email.id)
        if hold is not None:
            click.echo(f"        waits: {hold.reason}")
        elif email.last_error and email.state in ("failed", "sending", "cancelled"):
            click.echo(f"        {email.last_error}")
    click.echo(f"({len(result.items)} of {result.total}, page {result.page} of {result.pages})", err=True)


async def _every_email(rt: Runtime, state: str | None, needs_attention: bool | None) -> AsyncIterator[Any]:
    """Every email ``outbox list`` would show, as ``--json`` prints it, a batch at a time from
    one snapshot of the database (newest first: rows added meanwhile would shift the pages)."""
    async with read_transaction():
        page = 1
        while True:
            batch = await rt.emails.list(state, page, BATCH, needs_attention=needs_attention)
            found = await holds(rt, batch.items)
            for email in batch.items:
                yield _listed(email, found.get(email.id))
            if len(batch.items) < BATCH:
                return
            page += 1


def _listed(email: Email, hold: Hold | None) -> dict[str, Any]:
    """An email as ``outbox list --json`` prints it: its fields, and what it waits for."""
    return {
        **msgspec.to_builtins(email),
        "stranded": hold is not None and hold.kind == HOLD_STRANDED,
        "hold": msgspec.to_builtins(hold) if hold is not None else None,
        "written_to_file": written_to_file(email),
    }


@outbox.command("retry")
@click.argument("email_id", type=int)
@with_runtime
async def retry(rt: Runtime, email_id: int) -> None:
    """Queue a failed email again."""
    email = await actions.retry(rt, email_id, actor=CLI_ACTOR)
    click.echo(f"Email {email.id} is queued again.")


@outbox.command("send-now")
@click.argument("email_id", type=int)
@with_runtime
async def send_now(rt: Runtime, email_id: int) -> None:
    """Make a queued email due now: it skips its delay, a retry's backoff, the sending window and the
    mailbox's gap once, never a cap, the rate limit, suppression or the compliance checks."""
    done = await actions.send_now(rt, email_id, actor=CLI_ACTOR)
    click.echo(done.message)


@outbox.command("cancel")
@click.argument("email_id", type=int)
@with_runtime
async def cancel(rt: Runtime, email_id: int) -> None:
    """Cancel a queued email (the lead's sequence stops)."""
    done = await actions.cancel_one(rt, email_id, actor=CLI_ACTOR)
    click.echo(done.message)


@outbox.command("move")
@click.option("--from", "from_mailbox", required=True, help="The mailbox the emails are in now.")
@click.option("--to", "to_mailbox", required=True, help="A configured mailbox to send them from instead.")
@click.argument("email_ids", nargs=-1, type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_runtime
async def move(
    rt: Runtime, from_mailbox: str, to_mailbox: str, email_ids: tuple[int, ...], as_json: bool
) -> None:
    """Move the queued emails of a mailbox (all, or EMAIL_IDS) to another one: for a mailbox
    renamed or removed from the config, whose emails would otherwise wait for ever."""
    result = await actions.move(
        rt, from_mailbox, to_mailbox, list(email_ids) if email_ids else None, actor=CLI_ACTOR
    )
    if as_json:
        echo_json(result)
        return
    click.echo(result.sentence())


@outbox.command("mark-sent")
@click.argument("email_id", type=int)
@with_runtime
async def mark_sent(rt: Runtime, email_id: int) -> None:
    """Settle an interrupted send as sent (you found it in the Sent folder)."""
    email = await actions.mark_sent(rt, email_id, actor=CLI_ACTOR)
    click.echo(f"Email {email.id} is marked sent.")


@outbox.command("requeue")
@click.argument("email_id", type=int)
@with_runtime
async def requeue(rt: Runtime, email_id: int) -> None:
    """Send an interrupted email again (you checked it did not go out)."""
    email = await actions.requeue(rt, email_id, actor=CLI_ACTOR)
    click.echo(f"Email {email.id} is queued again.")


@click.group("mailboxes")
def mailboxes() -> None:
    """The sender identities and their sending policy."""


@mailboxes.command("list")
@paging_options()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_runtime
async def list_mailboxes(rt: Runtime, page: int | None, per_page: int | None, as_json: bool) -> None:
    """Each mailbox with its sender, today's count and cap, and when it may send next."""
    paging = Paging(page, per_page)
    items = await rt.mailboxes.status()
    if paging.every_row(as_json):
        await echo_json_rows(rows_of(items))
        return
    if paging.given:
        items = paging.slice(items)
    if as_json:
        echo_json(items)
        return
    echo_header("NAME", "FROM", "SENDERS", "SENT/CAP TODAY", "WINDOW")
    for box in items:
        chain = " -> ".join([box.backend, *box.failover])
        click.echo(
            f"{box.name}  {box.from_address}  via {chain}  {box.sent_today}/{box.cap_today} today  "
            f"window {box.window} ({'weekdays' if box.weekdays_only else 'every day'})"
        )
        if box.full_cap_on is not None and box.cap_today < box.daily_cap:
            click.echo(f"  warming up: full cap of {box.daily_cap} on {box.full_cap_on.isoformat()}")
        if box.paused:
            click.echo(f"  {box.paused_reason}", err=True)
        if box.problem:
            click.echo(f"  problem: {box.problem}", err=True)


@mailboxes.command("resume")
@click.argument("mailbox")
@with_runtime
async def resume_mailbox(rt: Runtime, mailbox: str) -> None:
    """Let a paused MAILBOX send again; its queued emails go out at the next rounds."""
    if await rt.mailboxes.resume(mailbox, actor=CLI_ACTOR):
        click.echo(f"Mailbox '{mailbox}' is resumed.")
    else:
        click.echo(f"Mailbox '{mailbox}' was not paused.")


@mailboxes.command("test")
@click.argument("mailbox")
@click.argument("to_address")
@with_runtime
async def test_mailbox(rt: Runtime, mailbox: str, to_address: str) -> None:
    """Send a test email from MAILBOX to TO_ADDRESS now, through its senders."""
    receipt = await rt.mailboxes.send_test(mailbox, to_address, actor=CLI_ACTOR)
    click.echo(f"Sent through {receipt.detail}; Message-ID {receipt.message_id}.")
