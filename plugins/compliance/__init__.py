"""Built-in plugin ``compliance``: what the law asks of every message, checked before every claim.

It registers, in this order:

- ``suppression``: an address on the suppression list is never handed to a sender (the
  claim checks the list once more, in its own transaction);
- ``identity``: a sender that delivers real mail holds every message back while
  ``[compliance] sender_name`` or ``physical_address`` is missing (CAN-SPAM), the
  mailbox's from address is not a real one, or ``[web] public_url`` is not an https
  address recipients can reach (it is the base of every link in the email); the
  ``outbox`` sender, which delivers nothing, still works;
- ``tracking``: the open pixel and tracked links in the HTML of mailboxes with
  ``tracking = true``;
- ``unsubscribe``: the ``List-Unsubscribe`` headers (https and mailto, one-click), the
  footer with the sender and postal address and a visible unsubscribe link, and on a
  sequence's first email the notice of the right to object (GDPR Art. 21(4)).

A person's answer to someone who wrote to us (``context.extra["kind"] == "answer"``) is
no cold email: it carries no footer, no unsubscribe headers and no tracking, and the
identity check asks only that its mailbox's from address be a real one. The suppression
list applies to it as to every message.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from outreach.kernel import (
    LEGAL_HOLD,
    ComplianceCheck,
    ComplianceContext,
    OutgoingMessage,
    PluginContext,
    Verdict,
    compliance_problems,
    hookimpl,
    sender_problem,
)

from .footer import UnsubscribeFooter, is_answer
from .tracking import TrackingLinks

#: How long a message waits before the settings are looked at again.
RECHECK_AFTER = timedelta(hours=1)


class SuppressionCheck:
    """Blocks a message to an address on the suppression list."""

    name = "suppression"
    reads_lead = False

    def __init__(self, context: PluginContext) -> None:
        self._context = context

    async def check(self, message: OutgoingMessage, context: ComplianceContext) -> Verdict:
        """Block when the recipient is suppressed (the planner's answer for this round, else the list's)."""
        suppressed = context.suppressed
        if suppressed is None:
            suppressed = await self._context.is_suppressed(message.to_address)
        if suppressed:
            return Verdict.block("the address is on the suppression list")
        return Verdict.allow()


class IdentityCheck:
    """Holds real mail back until the sender can be identified and reached (CAN-SPAM, RFC 8058)."""

    name = "identity"
    reads_lead = False

    def __init__(self, context: PluginContext) -> None:
        self._context = context
        self._settings_problems: list[str] | None = None

    async def check(self, message: OutgoingMessage, context: ComplianceContext) -> Verdict:
        """Defer a message of a real sender while something the law asks for is missing."""
        if not context.delivers:
            return Verdict.allow()
        if self._settings_problems is None:
            # The settings do not change while outreach runs: judge them once, not per message.
            self._settings_problems = compliance_problems(self._context.settings)
        # The sender, postal address and public links are what cold email owes its reader;
        # an answer to a person who wrote keeps only a truthful From.
        problems = [] if is_answer(context) else list(self._settings_problems)
        mailbox_problem = sender_problem(context.mailbox or "default", message.from_address)
        if mailbox_problem:
            problems.append(mailbox_problem)
        if not problems:
            return Verdict.allow()
        return Verdict.defer(
            (context.now or datetime.now(UTC)) + RECHECK_AFTER,
            f"{LEGAL_HOLD} (the Compliance page lists them): " + " ".join(problems),
        )


@hookimpl
def register_compliance_checks(register: Callable[[ComplianceCheck], None], context: PluginContext) -> None:
    """Provide the suppression, identity, tracking and unsubscribe checks, in that order."""
    register(SuppressionCheck(context))
    register(IdentityCheck(context))
    register(TrackingLinks(context))
    register(UnsubscribeFooter(context))
