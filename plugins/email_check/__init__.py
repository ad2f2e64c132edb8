"""Built-in plugin ``email_check``: the enricher that judges the lead's email address.

It runs after ``website`` and checks the lead's address (see :mod:`.checker`):
syntax with email-validator, mail servers with dnspython (``[plugins.email_check]
nameserver`` and ``port``; answers cached), the disposable-domain list of the
``disposable-email-domains`` package, and whether it is a role address. The
verdict is ``valid``, ``risky`` or ``invalid`` with reasons. When the address is
invalid and the website found others, the best of those that is not becomes the
lead's address.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from outreach.kernel import Enricher, Enrichment, Lead, PluginContext, hookimpl

from .options import EmailCheckOptions

if TYPE_CHECKING:
    from .checker import EmailChecker
    from .mx import MxLookup

CONFIDENCE = {"valid": 0.9, "risky": 0.5, "invalid": 0.05}
_PREFERENCE = {"valid": 0, "risky": 1}


class EmailCheckEnricher:
    """Gives the lead's email address a verdict."""

    name = "email_check"
    order = 50

    def __init__(self, options: EmailCheckOptions) -> None:
        self.options = options
        self._mx: MxLookup | None = None
        self._checker: EmailChecker | None = None

    def _build(self) -> None:
        # dnspython and email-validator take about a fifth of a second to import: only an
        # analysis needs them, not every command that loads the plugins.
        from .checker import EmailChecker
        from .mx import MxLookup

        self._mx = MxLookup(self.options)
        self._checker = EmailChecker(self._mx)

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

    async def enrich(self, lead: Lead) -> Enrichment:
        """Check ``lead.email``; if it is invalid, look for a usable address among the site's others."""
        if not lead.email:
            return Enrichment(data={"verdict": None, "reasons": ["the lead has no email address to check"]})
        result = await self.checker.check(lead.email.strip())
        fields: dict[str, Any] = {}
        if result["verdict"] == "invalid":
            replacement = await self._alternative(lead, result["address"])
            if replacement is not None:
                result = {
                    **replacement,
                    "replaced": {k: result[k] for k in ("address", "verdict", "reasons")},
                }
                fields["email"] = replacement["address"]
        return Enrichment(
            data=result, lead_fields=fields, confidence=CONFIDENCE[result["verdict"]], source=self.mx.source
        )

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
