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
import ipaddress
import time
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

import aiosmtplib
import msgspec

from outreach.kernel import PluginContext, sender_problem

from .dkim_keys import KeyProblem, parse_record, signing_public_key
from .lookups import LookupFailed, Lookups
from .options import DeliverabilityOptions, SmtpView
from .report import FAIL, OK, WARN, Finding, MailboxReport, worst
from .spf_dmarc import LOOKUP_LIMIT, authorized, fetch_dmarc, fetch_spf

GOOGLE_SPF = "_spf.google.com"
#: Google Workspace signs with this selector unless an admin chose another.
GOOGLE_SELECTOR = "google"
#: RFC 2606 and RFC 6761: names that can never be delegated on the Internet.
RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost"})
RESERVED_DOMAINS = frozenset({"example.com", "example.net", "example.org"})
#: How long a report with unanswered lookups is kept (DNS may answer again soon).
ERROR_TTL = 60.0

OWN_ADDRESS_FIX = "Add a [[mailboxes]] entry whose from_address is an address at a domain you own."


class Target(msgspec.Struct, frozen=True, kw_only=True):
    """A mailbox to examine: its name, From address and the sender that delivers its mail."""

    mailbox: str
    from_address: str
    backend: str


def from_domain(from_address: str) -> str:
    """The domain of a From address (``Ann <ann@acme.com>`` -> ``acme.com``)."""
    return parseaddr(from_address)[1].rpartition("@")[2].lower().rstrip(".")


def is_reserved(domain: str) -> bool:
    """Whether ``domain`` is reserved for documentation and tests, so no DNS can exist for it."""
    labels = domain.split(".")
    return labels[-1] in RESERVED_TLDS or ".".join(labels[-2:]) in RESERVED_DOMAINS


def targets(context: PluginContext) -> list[Target]:
    """Every configured mailbox; with none, the default mailbox outreach sends from."""
    settings = context.settings
    if not settings.mailboxes:
        name = settings.compliance.sender_name or "outreach"
        return [
            Target(
                mailbox="default",
                from_address=f"{name} <outreach@localhost>",
                backend=settings.sender.backend,
            )
        ]
    return [
        Target(mailbox=m.name, from_address=m.from_address, backend=m.backend or settings.sender.backend)
        for m in settings.mailboxes
    ]


_LOCAL_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "100.64.0.0/10",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)


def _on_this_network(address: str) -> bool:
    """Whether ``address`` is this machine's or a private network's (mail leaves from another one)."""
    ip = ipaddress.ip_address(address)
    return any(ip.version == net.version and ip in net for net in _LOCAL_NETWORKS)


def _lookup_warning(group: str, check: str, what: str, error: str | None) -> Finding:
    return Finding(
        group=group,
        check=check,
        status=WARN,
        summary=f"{what} could not be looked up: {error}",
        fix="Check the network, or [plugins.deliverability] nameserver, and run the doctor again.",
        details={"lookup_failed": True},
    )


class Doctor:
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
            report.findings.append(_lookup_warning("from", "dns", "DNS", self.lookups.unavailable))
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

    # -- SPF -------------------------------------------------------------------------

    def _spf_record(self, domain: str, spf: dict[str, Any]) -> list[Finding]:
        state, record = spf["state"], spf.get("record")
        details: dict[str, Any] = {"record": record, "lookups": spf.get("lookups")}
        if state == "error":
            return [_lookup_warning("spf", "spf_record", f"The SPF record of {domain}", spf.get("error"))]
        if state == "missing":
            return [
                Finding(
                    group="spf",
                    check="spf_record",
                    status=FAIL,
                    summary=f"{domain} publishes no SPF record ({spf.get('error')}).",
                    fix=f"Publish one TXT record at {domain} such as "
                    '"v=spf1 include:<your mail provider> -all" '
                    "(your provider documents its include), listing every service that sends as you.",
                    details=details,
                )
            ]
        if state == "invalid":
            return [
                Finding(
                    group="spf",
                    check="spf_record",
                    status=FAIL,
                    summary=f"The SPF record of {domain} is not valid: {spf.get('error')}",
                    fix="Correct the record (exactly one TXT record starting with v=spf1); receivers treat a "
                    "broken one as a permanent error.",
                    details=details,
                )
            ]
        if state == "too_many":
            return [
                Finding(
                    group="spf",
                    check="spf_lookups",
                    status=FAIL,
                    summary=f"The SPF record of {domain} needs {spf.get('lookups') or 'more than 10'} "
                    f"DNS lookups; "
                    f"receivers stop at {LOOKUP_LIMIT} and treat SPF as a permanent error.",
                    fix="Remove include: terms of services you no longer use, or replace some with the "
                    "ip4:/ip6: ranges they stand for.",
                    details=details,
                )
            ]
        lookups = spf["lookups"]
        findings = [
            Finding(
                group="spf",
                check="spf_record",
                status=OK,
                summary=f"{domain} publishes a valid SPF record ({lookups} of {LOOKUP_LIMIT} DNS lookups).",
                details={**details, "warnings": spf.get("warnings", [])},
            )
        ]
        if spf["parsed"].get("all") == "pass":
            findings.append(
                Finding(
                    group="spf",
                    check="spf_all",
                    status=WARN,
                    summary=f"The SPF record of {domain} ends in +all: it lets every server on the "
                    f"Internet send as you.",
                    fix="End the record with -all (or ~all) after the terms of the services that really "
                    "send.",
                )
            )
        return findings

    async def _spf_sender(
        self, domain: str, spf: dict[str, Any], backend: str, view: SmtpView | None
    ) -> list[Finding]:
        if spf["state"] != "ok":
            return []
        allowed = authorized(spf["parsed"])
        if backend == "outbox":
            return [
                Finding(
                    group="spf",
                    check="spf_sender",
                    status=WARN,
                    summary="The outbox sender writes files and delivers nothing, so there is no server "
                    "to check.",
                    fix="Set [sender] backend (or the mailbox's backend) to smtp or gmail, then run the "
                    "doctor again.",
                )
            ]
        if backend == "gmail":
            if GOOGLE_SPF in allowed.includes:
                return [
                    Finding(
                        group="spf",
                        check="spf_sender",
                        status=OK,
                        summary=f"The SPF record of {domain} includes Google's servers ({GOOGLE_SPF}).",
                    )
                ]
            return [
                Finding(
                    group="spf",
                    check="spf_sender",
                    status=FAIL,
                    summary=f"Gmail sends from Google's servers, which the SPF record of {domain} does "
                    f"not include.",
                    fix=f"Add include:{GOOGLE_SPF} to the SPF record of {domain}, before its all term.",
                )
            ]
        if backend != "smtp" or view is None:
            return [
                Finding(
                    group="spf",
                    check="spf_sender",
                    status=WARN,
                    summary=f"The doctor does not know which servers the '{backend}' sender sends from.",
                    fix="Check in that service's documentation which SPF include it needs.",
                )
            ]
        try:
            addresses = await self.lookups.addresses(view.host)
            for host in dict.fromkeys(allowed.mx_hosts):
                allowed.add_addresses(await self.lookups.addresses(host))
        except LookupFailed as exc:
            return [_lookup_warning("spf", "spf_sender", f"The address of {view.host}", str(exc))]
        if not addresses:
            return [
                Finding(
                    group="spf",
                    check="spf_sender",
                    status=FAIL,
                    summary=f"The SMTP host {view.host} has no address in DNS.",
                    fix="Correct [sender.smtp] host.",
                )
            ]
        uncovered = [a for a in addresses if not allowed.covers(a)]
        details = {"host": view.host, "addresses": addresses, "not_authorized": uncovered}
        if not uncovered:
            return [
                Finding(
                    group="spf",
                    check="spf_sender",
                    status=OK,
                    summary=f"The SPF record of {domain} lets {view.host} ({', '.join(addresses)}) send.",
                    details=details,
                )
            ]
        if len(uncovered) < len(addresses):
            status, summary = (
                WARN,
                (
                    f"The SPF record of {domain} lets some of {view.host}'s addresses send, but not "
                    f"{', '.join(uncovered)}; mail that leaves from those fails SPF."
                ),
            )
        elif all(_on_this_network(a) for a in addresses):
            status, summary = (
                WARN,
                (
                    f"The SMTP host {view.host} is on this machine or a private network "
                    f"({', '.join(addresses)}); "
                    "receivers see the public address mail leaves from, which the doctor cannot tell."
                ),
            )
        else:
            status, summary = (
                FAIL,
                (
                    f"The SPF record of {domain} does not let {view.host} ({', '.join(uncovered)}) send, "
                    "so receivers see mail from it fail SPF."
                ),
            )
        fix = (
            f"Add the include: term your mail provider documents to the SPF record of {domain}, or "
            + " ".join(f"ip{ipaddress.ip_address(a).version}:{a}" for a in uncovered)
            + "."
        )
        if allowed.unevaluated:
            summary += f" (Terms not evaluated: {', '.join(allowed.unevaluated)}.)"
        return [
            Finding(group="spf", check="spf_sender", status=status, summary=summary, fix=fix, details=details)
        ]

    # -- DKIM ------------------------------------------------------------------------

    async def _dkim(self, domain: str, backend: str, view: SmtpView | None) -> list[Finding]:
        if backend == "outbox":
            return [
                Finding(
                    group="dkim",
                    check="dkim_signing",
                    status=WARN,
                    summary="The outbox sender writes files and signs nothing.",
                    fix="Set [sender] backend to smtp or gmail, then run the doctor again.",
                )
            ]
        if backend == "smtp" and view is not None:
            if not view.dkim_selector or not view.dkim_private_key:
                return [
                    Finding(
                        group="dkim",
                        check="dkim_signing",
                        status=FAIL,
                        summary=f"outreach does not DKIM-sign mail from {domain}: [sender.smtp] has no "
                        "dkim_selector and dkim_private_key.",
                        fix="Make an RSA key pair (openssl genrsa -out dkim.pem 2048), publish its "
                        "public key as "
                        f'TXT at <selector>._domainkey.{domain} ("v=DKIM1; k=rsa; p=..."), and set '
                        "[sender.smtp] dkim_selector and dkim_private_key (the file's path, or env:NAME).",
                    )
                ]
            selector = view.dkim_selector
        elif backend == "gmail":
            selector = GOOGLE_SELECTOR
        else:
            return [
                Finding(
                    group="dkim",
                    check="dkim_signing",
                    status=WARN,
                    summary=f"The doctor does not know which key the '{backend}' sender signs with.",
                    fix="Check in that service's documentation how it DKIM-signs for your domain.",
                )
            ]
        name = f"{selector}._domainkey.{domain}"
        try:
            records = await self.lookups.txt(name)
        except LookupFailed as exc:
            return [_lookup_warning("dkim", "dkim_record", f"The DKIM key {name}", str(exc))]
        publish = (
            "In the Google Admin console (Apps > Google Workspace > Gmail > Authenticate email), generate "
            f"the DKIM key for {domain}, publish it, and start authentication."
            if backend == "gmail"
            else f"Publish the public half of dkim_private_key as one TXT record at {name} "
            '("v=DKIM1; k=rsa; p=<base64 of the public key>").'
        )
        if not records:
            return [
                Finding(
                    group="dkim",
                    check="dkim_record",
                    status=FAIL,
                    summary=f"No DKIM key is published at {name}, so receivers cannot check the signature.",
                    fix=publish,
                )
            ]
        if len(records) > 1:
            return [
                Finding(
                    group="dkim",
                    check="dkim_record",
                    status=FAIL,
                    summary=f"{name} holds {len(records)} TXT records; receivers need exactly one.",
                    fix=f"Keep only the current key at {name}.",
                )
            ]
        try:
            published = parse_record(records[0])
        except KeyProblem as exc:
            return [
                Finding(
                    group="dkim",
                    check="dkim_record",
                    status=FAIL,
                    summary=f"The DKIM key at {name} is unusable: {exc}.",
                    fix=publish,
                    details={"record": records[0]},
                )
            ]
        bits = published["bits"]
        findings = []
        if published["k"] == "rsa" and bits < 1024:
            findings.append(
                Finding(
                    group="dkim",
                    check="dkim_record",
                    status=FAIL,
                    summary=f"The DKIM key at {name} has {bits} bits; receivers ignore RSA keys under 1024.",
                    fix="Publish a 2048-bit key and sign with it.",
                )
            )
        elif published["k"] == "rsa" and bits < 2048:
            findings.append(
                Finding(
                    group="dkim",
                    check="dkim_record",
                    status=WARN,
                    summary=f"The DKIM key at {name} has {bits} bits; 2048 is what receivers expect today.",
                    fix="Make a 2048-bit key under a new selector, publish it, then sign with it.",
                )
            )
        else:
            findings.append(
                Finding(
                    group="dkim",
                    check="dkim_record",
                    status=OK,
                    summary=f"A DKIM key is published at {name} ({published['k']}, {bits} bits).",
                )
            )
        if backend == "smtp" and view is not None and view.dkim_private_key:
            findings.append(self._key_match(name, published, view.dkim_private_key))
        return findings

    def _key_match(self, name: str, published: dict[str, Any], reference: str) -> Finding:
        try:
            kind, public = signing_public_key(reference)
        except KeyProblem as exc:
            return Finding(
                group="dkim",
                check="dkim_key",
                status=FAIL,
                summary=f"outreach cannot sign: {exc}.",
                fix="Point [sender.smtp] dkim_private_key at the PEM file of the key, or set the "
                "variable it names.",
            )
        if (kind, public) == (published["k"], published["public"]):
            return Finding(
                group="dkim",
                check="dkim_key",
                status=OK,
                summary=f"dkim_private_key is the private half of the key at {name}.",
            )
        return Finding(
            group="dkim",
            check="dkim_key",
            status=FAIL,
            summary=f"dkim_private_key does not belong to the key published at {name}; every signature "
            f"would fail.",
            fix=f"Publish the public half of dkim_private_key at {name}, or point dkim_private_key at "
            f"the matching key.",
        )

    # -- DMARC -----------------------------------------------------------------------

    def _dmarc(self, domain: str, dmarc: dict[str, Any], report: MailboxReport) -> list[Finding]:
        name = f"_dmarc.{domain}"
        state = dmarc["state"]
        if state == "error":
            return [_lookup_warning("dmarc", "dmarc_record", f"The DMARC record {name}", dmarc.get("error"))]
        if state in ("missing", "invalid"):
            return [
                Finding(
                    group="dmarc",
                    check="dmarc_record",
                    status=FAIL,
                    summary=(
                        f"{domain} publishes no DMARC record."
                        if state == "missing"
                        else f"The DMARC record of {domain} is not valid: {dmarc.get('error')}"
                    ),
                    fix=f"Publish a TXT record at {name} such as "
                    f'"v=DMARC1; p=none; rua=mailto:dmarc@{domain}", '
                    "then move to p=quarantine once the reports show your mail passing. Gmail, Yahoo and "
                    "Outlook ask senders for one.",
                    details={"record": dmarc.get("record")},
                )
            ]
        tags = dmarc["tags"]
        policy = tags.get("p", "none")
        details = {"record": dmarc["record"], "location": dmarc["location"], "tags": tags}
        where = (
            "" if dmarc["location"] == domain else f" (the record of {dmarc['location']}, which covers it)"
        )
        if policy == "none":
            record_finding = Finding(
                group="dmarc",
                check="dmarc_record",
                status=WARN,
                summary=f"The DMARC policy of {domain} is p=none{where}: receivers only report, and mail "
                "that fails is delivered all the same, as is mail forged in your name.",
                fix="Once the aggregate reports show your own mail passing, change it to p=quarantine.",
                details=details,
            )
        else:
            record_finding = Finding(
                group="dmarc",
                check="dmarc_record",
                status=OK,
                summary=f"The DMARC policy of {domain} is p={policy}{where}.",
                details=details,
            )
        # outreach's senders use the From address as envelope sender (SPF's domain) and our
        # signer uses the From domain as d=, so both are aligned in strict mode as well as
        # relaxed: DMARC passes when either of them passes.
        spf, dkim = report.status("spf"), report.status("dkim")
        modes = f"aspf={tags.get('aspf', 'r')}, adkim={tags.get('adkim', 'r')}"
        if OK in (spf, dkim):
            passing = " and ".join(name for name, s in (("SPF", spf), ("DKIM", dkim)) if s == OK)
            alignment = Finding(
                group="dmarc",
                check="dmarc_alignment",
                status=OK,
                summary=f"DMARC should pass: {passing} for {domain}, the From domain ({modes}).",
            )
        elif spf == FAIL and dkim == FAIL:
            alignment = Finding(
                group="dmarc",
                check="dmarc_alignment",
                status=FAIL,
                summary=f"DMARC will fail: neither SPF nor DKIM passes for {domain}, the From domain "
                f"({modes}).",
                fix="Fix SPF or DKIM above (both, ideally).",
            )
        else:
            alignment = Finding(
                group="dmarc",
                check="dmarc_alignment",
                status=WARN,
                summary=f"Whether DMARC passes for {domain} cannot be told until SPF or DKIM does ({modes}).",
                fix="Resolve the SPF and DKIM findings above.",
            )
        return [record_finding, alignment]

    # -- MX and TLS --------------------------------------------------------------------

    async def _mx(self, domain: str) -> Finding:
        try:
            hosts = await self.lookups.mx(domain)
        except LookupFailed as exc:
            return _lookup_warning("mx", "mx", f"The mail servers of {domain}", str(exc))
        names = [host for _preference, host in hosts if host]
        if names:
            return Finding(
                group="mx",
                check="mx",
                status=OK,
                summary=f"Replies to {domain} go to {', '.join(names)}.",
                details={"hosts": names},
            )
        return Finding(
            group="mx",
            check="mx",
            status=FAIL,
            summary=(
                f"{domain} declares that it accepts no mail (null MX), so replies bounce."
                if hosts
                else f"{domain} has no MX record, so replies may never reach you."
            ),
            fix=f"Publish MX records for {domain} that point at the servers of your mailbox provider.",
        )

    async def _tls(self, backend: str, view: SmtpView | None) -> Finding:
        if backend == "gmail":
            return Finding(group="tls", check="tls", status=OK, summary="Gmail's API is reached over HTTPS.")
        if backend != "smtp" or view is None:
            return Finding(
                group="tls",
                check="tls",
                status=WARN,
                summary=f"The '{backend}' sender has no SMTP server for the doctor to check.",
            )
        where = f"{view.host}:{view.port}"
        if view.port == 465 and not view.tls:
            return Finding(
                group="tls",
                check="tls",
                status=FAIL,
                summary=f"{where} expects TLS from the first byte, but [sender.smtp] tls is false.",
                fix="Set [sender.smtp] tls = true for port 465 (or use port 587 with STARTTLS).",
            )
        timeout = self.options.smtp_timeout
        client = aiosmtplib.SMTP(
            hostname=view.host,
            port=view.port,
            use_tls=view.tls,
            start_tls=False,
            validate_certs=view.validate_certs,
            cert_bundle=view.cert_bundle,
            timeout=timeout,
            local_hostname=view.local_hostname,
        )
        try:
            await asyncio.wait_for(client.connect(), timeout)
            await asyncio.wait_for(client.ehlo(), timeout)
            starttls = client.supports_extension("starttls")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return Finding(
                group="tls",
                check="tls",
                status=FAIL,
                summary=f"Cannot talk to {where}{' over TLS' if view.tls else ''}: "
                f"{exc or type(exc).__name__}.",
                fix="Check [sender.smtp] host, port and tls (465 with tls = true, or 587 with STARTTLS).",
            )
        finally:
            try:
                if client.is_connected:
                    await asyncio.wait_for(client.quit(), 5)
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()
        if view.tls:
            return Finding(
                group="tls", check="tls", status=OK, summary=f"{where} speaks TLS from the first byte."
            )
        if not starttls:
            return Finding(
                group="tls",
                check="tls",
                status=FAIL,
                summary=f"{where} does not offer STARTTLS: the login and every message would cross the "
                f"network in clear.",
                fix="Use the provider's submission port with TLS (587 with STARTTLS, or 465 with tls = "
                "true).",
            )
        if view.starttls is False:
            return Finding(
                group="tls",
                check="tls",
                status=WARN,
                summary=f"{where} offers STARTTLS, but [sender.smtp] starttls = false keeps the "
                f"connection in clear.",
                fix="Remove starttls = false (or set it to true).",
            )
        return Finding(group="tls", check="tls", status=OK, summary=f"{where} offers STARTTLS.")


def overall(report: MailboxReport) -> str:
    """The report's worst status."""
    return worst(*(f.status for f in report.findings))
