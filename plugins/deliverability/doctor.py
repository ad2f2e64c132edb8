"""The domain doctor: for each mailbox's From domain, SPF, DKIM, DMARC, MX and the SMTP server's TLS.

Every finding has a status (``ok``, ``warn``, ``fail``) and, unless it is ok, a fix
in plain words. ``warn`` also stands for "could not be told" (DNS did not answer,
a sender the doctor knows nothing about), so only a definite problem is a ``fail``.

What is checked against what:

- SPF of the From domain (outreach's senders use the From address as the envelope
  sender, so SPF is judged for that domain and is aligned with it): present, valid,
  at most 10 DNS lookups, and whether it lets the sender's servers send: the
  addresses of ``[sender.smtp] host``, or Google's (``include:_spf.google.com``)
  for the ``gmail`` sender;
- DKIM: the key at ``<selector>._domainkey.<domain>`` (``[sender.smtp]
  dkim_selector``; ``google``, Google Workspace's default, for the ``gmail`` sender)
  exists and parses, and is the public half of ``dkim_private_key``;
- DMARC: ``_dmarc.<domain>`` (or the organizational domain's), its policy, and
  whether SPF or DKIM will pass aligned with the From domain, which DMARC needs;
- MX of the From domain, so that replies reach someone;
- TLS of ``[sender.smtp] host:port``: implicit TLS (``tls = true``, port 465) or
  STARTTLS offered after EHLO.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from outreach.kernel import PluginContext, sender_problem

from .basics import ERROR_TTL, OWN_ADDRESS_FIX, Target, from_domain, is_reserved, lookup_warning, targets
from .checks_dkim import DkimChecks
from .checks_dmarc import DmarcChecks
from .checks_spf import SpfChecks
from .checks_transport import TransportChecks
from .lookups import Lookups
from .options import DeliverabilityOptions, SmtpView
from .report import FAIL, WARN, Finding, MailboxReport, worst
from .spf_dmarc import fetch_dmarc, fetch_spf


class Doctor(SpfChecks, DkimChecks, DmarcChecks, TransportChecks):
    """Examines mailboxes' domains; keeps what the sending gate asked for a while."""

    def __init__(self, context: PluginContext, options: DeliverabilityOptions) -> None:
        self.context = context
        self.options = options
        self._lookups: Lookups | None = None
        self._cache: dict[Target, tuple[float, asyncio.Future[MailboxReport]]] = {}

    @property
    def lookups(self) -> Lookups:
        """The resolvers, made on first use (so loading the plugin asks nothing of DNS)."""
        if self._lookups is None:
            self._lookups = Lookups(self.options)
        return self._lookups

    # -- the whole examination ---------------------------------------------------------

    async def examine_all(self) -> list[MailboxReport]:
        """A full report for every mailbox."""
        return list(await asyncio.gather(*(self.examine(t) for t in targets(self.context))))

    async def examine(self, target: Target, *, full: bool = True) -> MailboxReport:
        """The report for ``target``: SPF and DKIM only unless ``full`` (DMARC, MX, TLS too)."""
        domain = from_domain(target.from_address)
        report = MailboxReport(
            mailbox=target.mailbox,
            from_address=target.from_address,
            domain=domain,
            backend=target.backend,
            checked_at=datetime.now(UTC),
            nameserver=self.lookups.source,
        )
        problem = sender_problem(target.mailbox, target.from_address)
        if problem:
            report.findings.append(
                Finding(group="from", check="from_address", status=FAIL, summary=problem, fix=OWN_ADDRESS_FIX)
            )
            return report
        if is_reserved(domain):
            report.findings.append(
                Finding(
                    group="from",
                    check="from_address",
                    status=WARN,
                    summary=f"{domain} is reserved for documentation and tests; no DNS records can "
                    f"exist for it, "
                    "so nothing was looked up.",
                    fix=OWN_ADDRESS_FIX,
                )
            )
            return report
        if self.lookups.unavailable:
            report.findings.append(lookup_warning("from", "dns", "DNS", self.lookups.unavailable))
            return report
        view: SmtpView | None = None
        if target.backend == "smtp":
            view = self.context.mailbox_sender_options("smtp", target.mailbox, SmtpView)
        timeout = self.options.timeout
        resolver = self.lookups.sync_resolver
        if full:
            spf, dmarc = await asyncio.gather(
                asyncio.to_thread(fetch_spf, domain, resolver, timeout),
                asyncio.to_thread(fetch_dmarc, domain, resolver, timeout),
            )
        else:
            spf, dmarc = await asyncio.to_thread(fetch_spf, domain, resolver, timeout), None
        report.findings.extend(self._spf_record(domain, spf))
        report.findings.extend(await self._spf_sender(domain, spf, target.backend, view))
        report.findings.extend(await self._dkim(domain, target.backend, view))
        if full:
            assert dmarc is not None
            report.findings.extend(self._dmarc(domain, dmarc, report))
            report.findings.append(await self._mx(domain))
            report.findings.append(await self._tls(target.backend, view))
        return report

    # -- the sending gate's cached view ------------------------------------------------

    async def authentication(self, target: Target) -> MailboxReport:
        """SPF and DKIM for ``target``, from the cache while fresh (``cache_ttl``); one lookup in flight."""
        now = time.monotonic()
        cached = self._cache.get(target)
        if cached is None or cached[0] < now:
            cached = (now + self.options.cache_ttl, asyncio.ensure_future(self.examine(target, full=False)))
            self._cache[target] = cached
        try:
            report = await asyncio.shield(cached[1])
        except Exception:
            if self._cache.get(target) is cached:
                del self._cache[target]
            raise
        unanswered = any(f.details.get("lookup_failed") for f in report.findings)
        if unanswered and self._cache.get(target) is cached:
            self._cache[target] = (min(cached[0], now + ERROR_TTL), cached[1])
        return report


def overall(report: MailboxReport) -> str:
    """The report's worst status."""
    return worst(*(f.status for f in report.findings))
