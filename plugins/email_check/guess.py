"""Finding a person's address on the business's domain when the site shows none.

When the lead names a person (its ``contact_name``, from the CSV, discovery or an
earlier enricher, or an entry ``{"name": ..., "source": ...}`` of the website
record's ``people`` list) and neither the lead
nor its site has a personal address on the site's own domain, the common patterns
are written out (:mod:`.patterns`). With the mailbox probe on, they are asked about
in one conversation, in order, and the first the server accepts is kept, provided
the server refused a random address too (a catch-all server accepts anything, which
proves nothing). Without the probe, or when none is confirmed, the guesses are only
listed and the lead keeps the best address the site gave.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from outreach.kernel import Lead

from .checker import is_role
from .patterns import local_parts
from .probe import MailboxProbe

#: How a kept guess was confirmed, as the enrichment records it.
CONFIRMED_BY_PROBE = "smtp_probe"


def site_domain(lead: Lead) -> str | None:
    """The business's own domain: where its site ended up, or the lead's website address."""
    website = lead.enrichment.get("website")
    url = (website.data.get("final_url") if website is not None else None) or lead.website_url or ""
    host = urlsplit(url if "://" in url else f"//{url}").hostname or ""
    host = host.lower().removeprefix("www.")
    return host if "." in host else None


def contact_names(lead: Lead) -> list[tuple[str, str]]:
    """``(name, where it came from)`` for the people the lead names, the lead's own contact first."""
    names: list[tuple[str, str]] = []
    if lead.contact_name and lead.contact_name.strip():
        names.append((lead.contact_name.strip(), "the lead's contact name"))
    website = lead.enrichment.get("website")
    for person in (website.data.get("people") or []) if website is not None else []:
        name = person.get("name") if isinstance(person, dict) else None
        if isinstance(name, str) and name.strip() and all(name.strip() != n for n, _ in names):
            names.append((name.strip(), str(person.get("source") or "the website")))
    return names


def _on_domain(address: str, domain: str) -> bool:
    host = address.rpartition("@")[2].lower()
    return host == domain or host.endswith("." + domain)


def has_personal_address(lead: Lead, domain: str) -> bool:
    """Whether the lead or its site already has an address of a person (not a role) on ``domain``."""
    website = lead.enrichment.get("website")
    found = (
        [e.get("address") for e in (website.data.get("emails") or []) if isinstance(e, dict)]
        if website
        else []
    )
    addresses = [a for a in [lead.email, *found] if isinstance(a, str) and "@" in a]
    return any(_on_domain(a, domain) and not is_role(a.rpartition("@")[0]) for a in addresses)


class AddressGuesser:
    """Writes out a named person's likely addresses and, with the probe, confirms one."""

    def __init__(self, probe: MailboxProbe | None, limit: int) -> None:
        self.probe = probe
        self.limit = limit

    async def guess(self, lead: Lead) -> dict[str, Any] | None:
        """What guessing found for ``lead``, or None when there is nothing to guess.

        The answer names the person, the domain, every candidate (with its verdict
        when probed) and, in ``address``, the kept guess or None, with ``confirmed_by``
        and ``confirmation`` saying how it was confirmed.
        """
        domain = site_domain(lead)
        names = contact_names(lead)
        if domain is None or not names or has_personal_address(lead, domain):
            return None
        name, source = next(((n, s) for n, s in names if local_parts(n)), names[0])
        candidates = [
            {"address": f"{local}@{domain}", "pattern": pattern} for pattern, local in local_parts(name)
        ][: self.limit]
        found: dict[str, Any] = {
            "contact_name": name,
            "name_source": source,
            "domain": domain,
            "candidates": candidates,
            "address": None,
            "pattern": None,
            "confirmed_by": None,
            "confirmation": None,
        }
        if not candidates:
            return found | {
                "outcome": f"'{name}' is not a first and a family name, so no address was guessed"
            }
        if self.probe is None:
            return found | {
                "outcome": "not confirmed: the mailbox probe is off ([plugins.email_check] smtp_probe), "
                "so the site's best address is kept"
            }
        verdicts = await self.probe.probe_many([c["address"] for c in candidates], first_only=True)
        for candidate in candidates:
            verdict = verdicts.get(candidate["address"])
            if verdict is not None:
                candidate.update(verdict=verdict["verdict"], reason=verdict["reason"])
        return found | self._decide(candidates, verdicts, domain)

    def _decide(
        self, candidates: list[dict[str, Any]], verdicts: dict[str, dict[str, Any]], domain: str
    ) -> dict[str, Any]:
        """The kept guess, or why there is none."""
        judged = [verdicts[c["address"]] for c in candidates if c["address"] in verdicts]
        if any(v["verdict"] == "catch_all" for v in judged):
            return {
                "outcome": f"not confirmed: {domain} accepts any address, so the site's best address is kept"
            }
        for candidate in candidates:
            verdict = verdicts.get(candidate["address"])
            if verdict is None or verdict["verdict"] != "deliverable":
                continue
            if not verdict.get("catch_all_checked"):
                return {
                    "outcome": f"not confirmed: {candidate['address']} was accepted, but whether {domain} "
                    "accepts any address could not be told, so the site's best address is kept"
                }
            return {
                "address": candidate["address"],
                "pattern": candidate["pattern"],
                "confirmed_by": CONFIRMED_BY_PROBE,
                "confirmation": verdict["reason"],
                "probe": verdict,
                "outcome": "kept: the mail server accepted it and refused a random address",
            }
        unknown = [v for v in judged if v["verdict"] == "unknown"]
        if unknown:
            return {"outcome": f"not confirmed: {unknown[0]['reason']}; the site's best address is kept"}
        return {
            "outcome": "not confirmed: the mail server refused every guess; the site's best address is kept"
        }
