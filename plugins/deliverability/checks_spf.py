"""The doctor's SPF checks: the record itself, and whether it lets outreach's senders send."""

from __future__ import annotations

import ipaddress
from typing import Any

from .basics import GOOGLE_SPF, lookup_warning, on_this_network
from .lookups import LookupFailed
from .options import SmtpView
from .report import FAIL, OK, WARN, Finding
from .spf_dmarc import LOOKUP_LIMIT, authorized


class SpfChecks:
    """SPF findings (mixed into :class:`~.doctor.Doctor`, whose lookups and options they use)."""

    # -- SPF -------------------------------------------------------------------------

    def _spf_record(self, domain: str, spf: dict[str, Any]) -> list[Finding]:
        state, record = spf["state"], spf.get("record")
        details: dict[str, Any] = {"record": record, "lookups": spf.get("lookups")}
        if state == "error":
            return [lookup_warning("spf", "spf_record", f"The SPF record of {domain}", spf.get("error"))]
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
            return [lookup_warning("spf", "spf_sender", f"The address of {view.host}", str(exc))]
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
        elif all(on_this_network(a) for a in addresses):
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
