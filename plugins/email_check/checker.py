"""One address judged: syntax, mail servers, disposable domain, role address; a verdict with reasons.

``invalid``: mail cannot arrive (bad syntax, no such domain, no mail server, or a
null MX). ``risky``: it may arrive but should not be counted on (a disposable
domain, no MX record but an address to fall back to, or DNS could not be asked).
``valid``: none of that. A role address (``info@``, ``sales@``) is flagged and
named among the reasons, but does not lower the verdict: for a small business it
is often the right address.
"""

from __future__ import annotations

from typing import Any

from disposable_email_domains import blocklist as DISPOSABLE
from email_validator import EmailNotValidError, validate_email

from .mx import MxLookup


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


ROLE_LOCALS = _words(
    "info office contact contacts hello hi sales support service services admin administrator mail "
    "email enquiries enquiry inquiries inquiry team help billing accounts accounting booking bookings "
    "reservations reservation reception hr jobs careers marketing press media webmaster postmaster "
    "hostmaster abuse kontakt anfrage anfragen buero büro verwaltung bestellung rezeption praxis "
    "kanzlei contacto ventas informacion info.de bonjour ciao"
)

_MX_REASONS = {
    "no_domain": "the domain does not exist",
    "null_mx": "the domain declares that it accepts no mail (null MX)",
    "no_mail": "the domain has no mail server and no address to fall back to",
    "address_only": "the domain has no MX record; mail would go to its own address",
}
_INVALID_MX = frozenset({"no_domain", "null_mx", "no_mail"})


def is_disposable(domain: str) -> bool:
    """Whether ``domain`` or a domain above it is a known throwaway-address provider."""
    labels = domain.split(".")
    return any(".".join(labels[i:]) in DISPOSABLE for i in range(len(labels) - 1))


def is_role(local: str) -> bool:
    """Whether the local part names a function (``info``, ``sales``) rather than a person."""
    return local.casefold().split("+", 1)[0] in ROLE_LOCALS


class EmailChecker:
    """Judges addresses with the help of DNS."""

    def __init__(self, mx: MxLookup) -> None:
        self.mx = mx

    async def check(self, address: str) -> dict[str, Any]:
        """The verdict on ``address`` with its reasons and the facts behind them."""
        try:
            valid = validate_email(address, check_deliverability=False)
        except EmailNotValidError as exc:
            return {
                "address": address,
                "verdict": "invalid",
                "reasons": [f"not a valid address: {exc}"],
                "syntax_ok": False,
            }
        domain = valid.ascii_domain.lower()
        result: dict[str, Any] = {
            "address": address,
            "normalized": valid.normalized,
            "syntax_ok": True,
            "disposable": is_disposable(domain),
            "role": is_role(valid.local_part or ""),
        }
        answer = await self.mx.lookup(domain)
        result.update(mx_status=answer.status, mx_hosts=answer.hosts)
        reasons = []
        if answer.status in _MX_REASONS:
            reasons.append(_MX_REASONS[answer.status])
        elif answer.status == "error":
            reasons.append(f"the mail servers could not be looked up ({answer.error})")
        if result["disposable"]:
            reasons.append("the domain hands out disposable addresses")
        if result["role"]:
            reasons.append("a role address, read by whoever looks after it rather than one person")
        if answer.status in _INVALID_MX:
            verdict = "invalid"
        elif result["disposable"] or answer.status in ("address_only", "error"):
            verdict = "risky"
        else:
            verdict = "valid"
        result.update(verdict=verdict, reasons=reasons)
        return result
