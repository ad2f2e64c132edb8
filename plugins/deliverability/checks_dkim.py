"""The doctor's DKIM check: the published key exists, parses and matches the one outreach signs with."""

from __future__ import annotations

from typing import Any

from .basics import GOOGLE_SELECTOR, lookup_warning
from .dkim_keys import KeyProblem, parse_record, signing_public_key
from .lookups import LookupFailed
from .options import SmtpView
from .report import FAIL, OK, WARN, Finding


class DkimChecks:
    """DKIM findings (mixed into :class:`~.doctor.Doctor`)."""

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
            return [lookup_warning("dkim", "dkim_record", f"The DKIM key {name}", str(exc))]
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
