"""The doctor's DMARC check: the policy, and whether SPF or DKIM will pass aligned with the From domain."""

from __future__ import annotations

from typing import Any

from .basics import lookup_warning
from .report import FAIL, OK, WARN, Finding, MailboxReport


class DmarcChecks:
    """DMARC findings (mixed into :class:`~.doctor.Doctor`)."""

    # -- DMARC -----------------------------------------------------------------------

    def _dmarc(self, domain: str, dmarc: dict[str, Any], report: MailboxReport) -> list[Finding]:
        name = f"_dmarc.{domain}"
        state = dmarc["state"]
        if state == "error":
            return [lookup_warning("dmarc", "dmarc_record", f"The DMARC record {name}", dmarc.get("error"))]
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
