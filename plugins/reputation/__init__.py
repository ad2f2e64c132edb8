"""Built-in plugin ``reputation``: a mailbox that hurts its sender's reputation stops sending.

A mailbox is paused, with the reason and the time, when

- its hard-bounce rate over its last ``bounce_window`` sends exceeds ``max_bounce_rate``
  (judged once it sent ``min_sends``);
- a spam complaint arrives (an ARF feedback report, RFC 5965, or a reply categorized
  ``complaint``);
- its server refuses a message with a policy block (a 5.7.x status, or the block texts of
  the big providers: :data:`.blocks.POLICY_BLOCKS`), at the send or later in a bounce
  (a delivery status notification whose status or reason says "blocked").

It registers two compliance checks:

- ``paused_mailbox``: defers every message of a paused mailbox, so a paused mailbox sends
  nothing and its queued emails wait until a person resumes it (``outreach mailboxes
  resume NAME`` or the Mailboxes page);
- ``content``: link shorteners, a missing text part, an all-caps subject and the phrases
  spam filters punish most are warnings (:meth:`ContentCheck.warnings`); only the kinds
  listed in ``[plugins.reputation] block`` stop a message.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import msgspec

from outreach.kernel import (
    ComplianceCheck,
    ComplianceContext,
    Email,
    InboundRecord,
    OutgoingMessage,
    PluginContext,
    Verdict,
    hookimpl,
)

from .blocks import bounce_block
from .content import content_findings
from .pauses import PLUGIN, Reputation, ReputationOptions

#: How long a paused mailbox's message waits before it is looked at again.
RECHECK_AFTER = timedelta(minutes=15)

#: The :class:`Reputation` of each plugin host, by its context (tests build many hosts).
_HOSTS: weakref.WeakKeyDictionary[PluginContext, Reputation] = weakref.WeakKeyDictionary()


def reputation_for(context: PluginContext) -> Reputation:
    """The pauses of the plugin host that owns ``context`` (made on first use)."""
    found = _HOSTS.get(context)
    if found is None:
        found = _HOSTS[context] = Reputation(context, context.plugin_options(PLUGIN, ReputationOptions))
    return found


class PausedMailboxCheck:
    """Defers every message of a paused mailbox."""

    name = "paused_mailbox"
    reads_lead = False

    def __init__(self, reputation: Reputation) -> None:
        self._reputation = reputation

    async def check(self, message: OutgoingMessage, context: ComplianceContext) -> Verdict:
        """Defer when the message's mailbox is in the pause book."""
        mailbox = context.mailbox or message.mailbox
        pause = (await self._reputation.book()).get(mailbox or "")
        if pause is None:
            return Verdict.allow()
        return Verdict.defer(
            (context.now or datetime.now(UTC)) + RECHECK_AFTER,
            f"mailbox '{mailbox}' is paused since {pause.get('since', '?')}: {pause.get('reason')}; "
            f"resume with `outreach mailboxes resume {mailbox}` or the Mailboxes page",
        )


class ContentCheck:
    """Warns about what spam filters punish; blocks only the kinds the config lists."""

    name = "content"
    reads_lead = False

    def __init__(self, options: ReputationOptions) -> None:
        self._block = frozenset(options.block)

    def warnings(self, message: OutgoingMessage) -> list[str]:
        """Every content finding of ``message``, as sentences (nothing is decided)."""
        return [text for _kind, text in content_findings(message)]

    async def check(self, message: OutgoingMessage, context: ComplianceContext) -> Verdict:
        """Block on a finding of a kind listed in ``block``; allow otherwise."""
        blocking = [text for kind, text in content_findings(message) if kind in self._block]
        if blocking:
            return Verdict.block("the content check found " + "; ".join(blocking))
        return Verdict.allow()


@hookimpl
def register_config_tables(register: Callable[[str, type[msgspec.Struct]], None]) -> None:
    """Declare ``[plugins.reputation]``."""
    register(f"plugins.{PLUGIN}", ReputationOptions)


@hookimpl
def register_compliance_checks(register: Callable[[ComplianceCheck], None], context: PluginContext) -> None:
    """Provide the paused-mailbox and content checks."""
    reputation = reputation_for(context)
    register(PausedMailboxCheck(reputation))
    register(ContentCheck(reputation.options))


@hookimpl
def email_transitioned(email: Email, old_state: str, new_state: str, context: PluginContext) -> None:
    """Record sends and bounces, and pause on a complaint or a policy block (applied in a task)."""
    reputation_for(context).observe(email, old_state, new_state)


@hookimpl
def inbound_applied(record: InboundRecord, email: Email | None, context: PluginContext) -> None:
    """Pause the mailbox whose email came back with a policy block (applied in a task)."""
    if record.kind != "bounce" or email is None or not email.mailbox or not record.detail.get("ours"):
        return
    block = bounce_block(record.detail.get("recipients") or [])
    if block is not None:
        reputation_for(context).observe_block(email, block)
