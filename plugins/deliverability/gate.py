"""The sending gate: a real sender starts no sequence from a domain that fails both SPF and DKIM.

Such mail cannot pass DMARC and lands in spam or is refused; worse, it teaches
receivers to distrust the domain. The check holds back (defers) the first email of
a sequence, saying what fails and how to fix it; follow-ups of sequences already
started are left alone. The doctor's answer is kept per mailbox and domain for
``[plugins.deliverability] cache_ttl`` seconds, so DNS is asked once an hour, not
once per email.

``[deliverability] allow_unauthenticated = true`` lets such mail go; the
first time each domain uses the override in a run of outreach, it is recorded in the
audit log (against the email that used it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog

from outreach.kernel import ComplianceContext, OutgoingMessage, PluginContext, Verdict, sender_problem

from .basics import Target, from_domain, is_reserved
from .doctor import Doctor
from .report import FAIL, MailboxReport

ACTOR = "plugin:deliverability"
OVERRIDE = "[deliverability] allow_unauthenticated = true"

log = structlog.get_logger("outreach.plugins.deliverability")


def unauthenticated(report: MailboxReport) -> bool:
    """Whether the report says mail would fail both SPF and DKIM."""
    return report.status("spf") == FAIL and report.status("dkim") == FAIL


def reason(report: MailboxReport) -> str:
    """Why the first emails from the report's domain wait, and the ways out."""
    causes = " ".join(f.summary for group in ("spf", "dkim") for f in report.failing(group))
    return (
        f"Not starting sequences from {report.domain}: its mail would fail both SPF and DKIM, so "
        f"receivers would reject it or file it as spam. {causes} Fix the DNS records (`outreach doctor` "
        f"and the Deliverability page say how), or set {OVERRIDE} to send anyway."
    )


class AuthenticationGate:
    """Defers a sequence's first email from a domain that fails both SPF and DKIM."""

    name = "deliverability"
    reads_lead = False

    def __init__(self, context: PluginContext, doctor: Doctor) -> None:
        self._context = context
        self._doctor = doctor
        self._recorded: set[str] = set()

    async def check(self, message: OutgoingMessage, context: ComplianceContext) -> Verdict:
        """Allow, unless a real sender would start a sequence from an unauthenticated domain."""
        if not context.delivers or message.step_number != 1:
            return Verdict.allow()
        domain = from_domain(message.from_address)
        mailbox = context.mailbox or message.mailbox or "default"
        if not domain or is_reserved(domain) or sender_problem(mailbox, message.from_address):
            return Verdict.allow()  # nothing to look up; the identity check speaks for a bad address
        target = Target(
            mailbox=mailbox,
            from_address=message.from_address,
            backend=context.sender or self._context.settings.sender.backend,
        )
        try:
            report = await self._doctor.authentication(target)
        except Exception as exc:  # a bug or an odd answer must not stop all mail; it is logged
            log.warning("deliverability_check_failed", mailbox=mailbox, error=str(exc)[:200])
            return Verdict.allow()
        if not unauthenticated(report):
            return Verdict.allow()
        if self._doctor.context.settings.deliverability.allow_unauthenticated:
            if not context.dry_run and domain not in self._recorded:
                self._recorded.add(domain)
                await self._record_override(message, report)
            return Verdict.allow()
        recheck = timedelta(seconds=max(self._doctor.options.cache_ttl, 300))
        return Verdict.defer((context.now or datetime.now(UTC)) + recheck, reason(report))

    async def _record_override(self, message: OutgoingMessage, report: MailboxReport) -> None:
        await self._context.audit(
            "email",
            message.email_id,
            "deliverability_override",
            ACTOR,
            new={
                "domain": report.domain,
                "mailbox": report.mailbox,
                "setting": OVERRIDE,
                "spf": [f.summary for f in report.failing("spf")],
                "dkim": [f.summary for f in report.failing("dkim")],
            },
        )
        log.warning("deliverability_override_used", mailbox=report.mailbox, domain=report.domain)
