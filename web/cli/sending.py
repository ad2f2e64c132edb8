"""``outreach send``, ``outreach outbox`` and ``outreach mailboxes``: the outbox from the command line."""

from __future__ import annotations

import click

from outreach.kernel.runtime import Runtime
from outreach.kernel.services.outbox import actions
from outreach.kernel.services.outbox.dry_run import explain
from outreach.kernel.states import EmailState

from .common import CLI_ACTOR, echo_json, with_runtime


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
            else:
                until = f" until {item.until:%Y-%m-%d %H:%M} UTC" if item.until else ""
                where_from = f"#{item.email_id} (lead {item.lead_id}, step {item.step_number})"
                click.echo(f"  {item.action:<6} {where_from}: {item.reason}{until}")
        for limit in report.limits:
            click.echo(f"  limit: {limit}")
        if report.followups_due:
            click.echo(f"  {report.followups_due} follow-up(s) are due to be queued.")
        return
    worker = rt.outbox
    stats = await (worker.run_until_idle() if until_idle else worker.run_until_idle(max_rounds=1))
    if as_json:
        echo_json(stats)
        return
    click.echo(
        f"Sent {stats.sent}, retrying {stats.retried}, failed {stats.failed}, blocked {stats.blocked}, "
        f"deferred {stats.deferred}, cancelled {stats.cancelled}, unknown outcome {stats.uncertain}; "
        f"{stats.waiting} waiting."
    )


@click.group("outbox")
def outbox() -> None:
    """List outgoing emails and act on one."""


@outbox.command("list")
@click.option("--state", type=click.Choice([s.value for s in EmailState]), help="Only emails in this state.")
@click.option("--attention", is_flag=True, help="Only the emails that need a person (interrupted sends).")
@click.option("--page", default=1, show_default=True)
@click.option("--per-page", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_runtime
async def list_emails(
    rt: Runtime, state: str | None, attention: bool, page: int, per_page: int, as_json: bool
) -> None:
    """Outgoing emails, newest first."""
    result = await rt.emails.list(state, page, per_page, needs_attention=True if attention else None)
    if as_json:
        echo_json(result.items)
        return
    for email in result.items:
        flag = " [needs attention]" if email.needs_attention else ""
        due = f" due {email.due_at:%Y-%m-%d %H:%M}" if email.state == "queued" and email.due_at else ""
        click.echo(
            f"{email.id:>6}  {email.state:<10} lead {email.lead_id:<6} step {email.step_number}  "
            f"{email.mailbox or ''}{due}  {email.subject}{flag}"
        )
        if email.last_error and email.state in ("failed", "queued", "sending", "cancelled"):
            click.echo(f"        {email.last_error}")
    click.echo(f"({len(result.items)} of {result.total}, page {result.page} of {result.pages})", err=True)


@outbox.command("retry")
@click.argument("email_id", type=int)
@with_runtime
async def retry(rt: Runtime, email_id: int) -> None:
    """Queue a failed email again."""
    email = await actions.retry(rt, email_id, actor=CLI_ACTOR)
    click.echo(f"Email {email.id} is queued again.")


@outbox.command("cancel")
@click.argument("email_id", type=int)
@with_runtime
async def cancel(rt: Runtime, email_id: int) -> None:
    """Cancel a queued email (the lead's sequence stops)."""
    email = await actions.cancel(rt, email_id, actor=CLI_ACTOR)
    click.echo(f"Email {email.id} is cancelled.")


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
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_runtime
async def list_mailboxes(rt: Runtime, as_json: bool) -> None:
    """Each mailbox with its sender, today's count and cap, and when it may send next."""
    items = await rt.mailboxes.status()
    if as_json:
        echo_json(items)
        return
    for box in items:
        chain = " -> ".join([box.backend, *box.failover])
        click.echo(
            f"{box.name}  {box.from_address}  via {chain}  {box.sent_today}/{box.cap_today} today  "
            f"window {box.window} ({'weekdays' if box.weekdays_only else 'every day'})"
        )
        if box.problem:
            click.echo(f"  problem: {box.problem}", err=True)


@mailboxes.command("test")
@click.argument("mailbox")
@click.argument("to_address")
@with_runtime
async def test_mailbox(rt: Runtime, mailbox: str, to_address: str) -> None:
    """Send a test email from MAILBOX to TO_ADDRESS now, through its senders."""
    receipt = await rt.mailboxes.send_test(mailbox, to_address, actor=CLI_ACTOR)
    click.echo(f"Sent through {receipt.detail}; Message-ID {receipt.message_id}.")
