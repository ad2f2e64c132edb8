"""Built-in plugin ``email_check``: the enricher that judges the lead's email address.

It runs after ``website`` and checks the lead's address (see :mod:`.checker`):
syntax with email-validator, mail servers with dnspython (``[plugins.email_check]
nameserver`` and ``port``; answers cached), the disposable-domain list of the
``disposable-email-domains`` package, and whether it is a role address. The
verdict is ``valid``, ``risky`` or ``invalid`` with reasons. When the address is
invalid and the website found others, the best of those that is not becomes the
lead's address.

Two more steps are opt-in through ``smtp_probe = true``:

- the mailbox probe (:mod:`.probe`) asks the domain's mail server whether the
  address exists and stores its verdict under ``probe`` (``deliverable``,
  ``undeliverable``, ``catch_all`` or ``unknown`` with a cause). An
  ``undeliverable`` address also gets an ``outreach_hold``, which keeps the lead
  from ``ready_for_outreach`` until a person moves it there themselves;
- address guessing (:mod:`.guess`) runs whether the probe is on or not: a lead that
  names a person but has no personal address on its domain gets the common patterns
  written out under ``guess``, and with the probe the first one confirmed becomes
  the lead's address, marked ``guessed``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from outreach.kernel import Enricher, Enrichment, Lead, PluginContext, hookimpl

from .options import EmailCheckOptions

if TYPE_CHECKING:
    from .checker import EmailChecker
    from .guess import AddressGuesser
    from .mx import MxLookup
    from .probe import MailboxProbe

CONFIDENCE = {"valid": 0.9, "risky": 0.5, "invalid": 0.05}
_PREFERENCE = {"valid": 0, "risky": 1}
#: The key of the record's data that holds a lead back from ``ready_for_outreach``
#: (read by the kernel's readiness check): ``{"email": ..., "reason": ...}``.
HOLD_KEY = "outreach_hold"


class EmailCheckEnricher:
    """Gives the lead's email address a verdict."""

    name = "email_check"
    order = 50

    def __init__(self, options: EmailCheckOptions) -> None:
        self.options = options
        self._mx: MxLookup | None = None
        self._checker: EmailChecker | None = None
        self._probe: MailboxProbe | None = None
        self._guesser: AddressGuesser | None = None

    def _build(self) -> None:
        # dnspython and email-validator take about a fifth of a second to import: only an
        # analysis needs them, not every command that loads the plugins.
        from .checker import EmailChecker
        from .guess import AddressGuesser
        from .mx import MxLookup
        from .probe import MailboxProbe

        self._mx = MxLookup(self.options)
        self._checker = EmailChecker(self._mx)
        self._probe = MailboxProbe(self.options, self._mx) if self.options.smtp_probe else None
        self._guesser = AddressGuesser(self._probe, self.options.guess_limit)

    @property
    def mx(self) -> MxLookup:
        """The cached MX lookup (built on first use)."""
        if self._mx is None:
            self._build()
        assert self._mx is not None
        return self._mx

    @property
    def checker(self) -> EmailChecker:
        """The address checker (built on first use)."""
        if self._checker is None:
            self._build()
        assert self._checker is not None
        return self._checker

    @property
    def probe(self) -> MailboxProbe | None:
        """The mailbox probe, or None when ``smtp_probe`` is off."""
        if self._mx is None:
            self._build()
        return self._probe

    @property
    def guesser(self) -> AddressGuesser:
        """The address guesser (built on first use)."""
        if self._guesser is None:
            self._build()
        assert self._guesser is not None
        return self._guesser

    async def enrich(self, lead: Lead) -> Enrichment:
        """Check the lead's address (or a confirmed guess); if it is invalid, look among the site's others."""
        guess = await self.guesser.guess(lead)
        address = guess["address"] if guess is not None and guess["address"] else (lead.email or "").strip()
        if not address:
            data: dict[str, Any] = {"verdict": None, "reasons": ["the lead has no email address to check"]}
            return Enrichment(data=data | ({"guess": guess} if guess is not None else {}))
        result = await self.checker.check(address)
        fields: dict[str, Any] = {}
        if address != (lead.email or "").strip():
            fields["email"] = address
            result["guessed"] = True
            if lead.email:
                result["instead_of"] = lead.email.strip()
        if result["verdict"] == "invalid":
            replacement = await self._alternative(lead, result["address"])
            if replacement is not None:
                result = {
                    **replacement,
                    "replaced": {k: result[k] for k in ("address", "verdict", "reasons")},
                }
                fields["email"] = replacement["address"]
        if guess is not None:
            result["guess"] = guess
        await self._probe_address(result)
        return Enrichment(
            data=result, lead_fields=fields, confidence=CONFIDENCE[result["verdict"]], source=self.mx.source
        )

    async def _probe_address(self, result: dict[str, Any]) -> None:
        """Add the mailbox probe's verdict on the checked address, and a hold when it is undeliverable."""
        if self.probe is None or result["verdict"] == "invalid":
            return
        guess = result.get("guess") or {}
        if result.get("guessed") and guess.get("address") == result["address"]:
            probed = guess["probe"]  # asked about while guessing, in the same conversation
        else:
            probed = await self.probe.probe(result["address"])
        result["probe"] = probed
        if probed["verdict"] == "undeliverable":
            result[HOLD_KEY] = {
                "email": result["address"],
                "reason": f"the mailbox probe found no such mailbox: {probed['reason']}",
            }

    async def _alternative(self, lead: Lead, rejected: str) -> dict[str, Any] | None:
        """The best-judged of the website's other addresses that is not invalid, in rank order."""
        website = lead.enrichment.get("website")
        found = website.data.get("emails", []) if website is not None else []
        others = [e["address"] for e in found if isinstance(e, dict) and e.get("address") != rejected]
        checked = [await self.checker.check(address) for address in others[: self.options.alternatives]]
        usable = [c for c in checked if c["verdict"] in _PREFERENCE]
        return min(usable, key=lambda c: _PREFERENCE[c["verdict"]]) if usable else None


@hookimpl
def register_config_tables(register: Callable[[str, type], None]) -> None:
    """Declare ``[plugins.email_check]``, so a typo in it is an error at start-up."""
    register("plugins.email_check", EmailCheckOptions)


@hookimpl
def register_enrichers(register: Callable[[Enricher], None], context: PluginContext) -> None:
    """Provide the ``email_check`` enricher, configured from ``[plugins.email_check]``."""
    register(EmailCheckEnricher(context.plugin_options("email_check", EmailCheckOptions)))
