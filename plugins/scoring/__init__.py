"""Built-in plugin ``scoring``: the ``score`` enricher, which runs last and rates each lead 0..1.

The score adds up weighted signals, each between 0 and 1:

- ``email``: an address on the business's own domain (1), on a free mail provider
  (0.6), elsewhere (0.3), none (0);
- ``mx``: the ``email_check`` verdict: valid (1), risky (0.4), invalid or unknown (0);
  when the mailbox probe answered, its verdict instead: deliverable (1), catch_all
  (0.7: the server accepts anything, so the mailbox is not confirmed), undeliverable
  (0); an ``unknown`` probe leaves the DNS verdict standing;
- ``website``: the site answered (1) or not (0);
- ``rating``: the map rating, from 3 stars (0) to 5 (1);
- ``reviews``: how many reviews, on a log scale reaching 1 at 200.

It reads what ``website`` and ``email_check`` stored on the lead; without them it
judges the lead's own fields. ``[plugins.scoring] weights`` changes the weights
(signals not named keep theirs; all are scaled to add up to 1). An invalid or
undeliverable address caps the score at 0.2: that lead cannot be written to as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import msgspec

from outreach.kernel import ConfigError, Enricher, Enrichment, Lead, PluginContext, hookimpl

SIGNALS = ("email", "mx", "website", "rating", "reviews")
DEFAULT_WEIGHTS = {"email": 0.3, "mx": 0.25, "website": 0.15, "rating": 0.15, "reviews": 0.15}
INVALID_CAP = 0.2
#: The mailbox probe's verdicts as the ``mx`` signal (``unknown`` is absent: the DNS verdict stands).
PROBE_SIGNAL = {"deliverable": 1.0, "catch_all": 0.7, "undeliverable": 0.0}


class ScoringOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[plugins.scoring]``."""

    weights: dict[str, float] = {}

    def __post_init__(self) -> None:
        unknown = sorted(set(self.weights) - set(SIGNALS))
        if unknown:
            raise ConfigError(
                f"[plugins.scoring] weights: unknown signal {', '.join(unknown)}; use {', '.join(SIGNALS)}."
            )
        if any(w < 0 for w in self.weights.values()) or not sum({**DEFAULT_WEIGHTS, **self.weights}.values()):
            raise ConfigError("[plugins.scoring] weights must be zero or more, and not all zero.")


def _domain(text: str | None) -> str:
    host = (text or "").lower().split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    return host.removeprefix("www.")


def email_signal(lead: Lead) -> float:
    """How good the lead's address is as a way to reach the business."""
    website = lead.enrichment.get("website")
    found = website.data.get("emails") if website is not None else None
    email = (lead.email or "").strip().casefold()
    if not email:
        return 0.0
    for entry in found or []:
        if isinstance(entry, dict) and entry.get("address") == email:
            return 1.0 if entry.get("own_domain") else 0.6 if entry.get("free_mail") else 0.3
    site = _domain(lead.website_url)
    domain = email.rpartition("@")[2]
    if site and (domain == site or domain.endswith("." + site) or site.endswith("." + domain)):
        return 1.0
    return 0.3


def probe_verdict(lead: Lead) -> str | None:
    """The mailbox probe's verdict on the lead's address, if it was probed."""
    check = lead.enrichment.get("email_check")
    probe = check.data.get("probe") if check is not None else None
    return str(probe.get("verdict")) if isinstance(probe, dict) else None


def mx_signal(lead: Lead) -> float:
    """The email check's verdict as a number; the mailbox probe's, when it answered."""
    probed = probe_verdict(lead)
    if probed in PROBE_SIGNAL:
        return PROBE_SIGNAL[probed]
    check = lead.enrichment.get("email_check")
    verdict = check.data.get("verdict") if check is not None else None
    return {"valid": 1.0, "risky": 0.4}.get(str(verdict), 0.0)


def cannot_be_written_to(lead: Lead) -> bool:
    """Whether the email check found the address invalid, or the probe found no such mailbox."""
    check = lead.enrichment.get("email_check")
    return check is not None and (
        check.data.get("verdict") == "invalid" or probe_verdict(lead) == "undeliverable"
    )


def website_signal(lead: Lead) -> float:
    """Whether the business's site answered."""
    website = lead.enrichment.get("website")
    return 1.0 if website is not None and website.data.get("reachable") else 0.0


def rating_signal(lead: Lead) -> float:
    """The map rating, 3 stars and below as 0, 5 stars as 1."""
    if lead.rating is None:
        return 0.0
    return min(1.0, max(0.0, (lead.rating - 3.0) / 2.0))


def reviews_signal(lead: Lead) -> float:
    """How many people reviewed the business, on a log scale (200 and more is 1)."""
    if not lead.review_count or lead.review_count < 0:
        return 0.0
    return min(1.0, math.log1p(lead.review_count) / math.log1p(200))


_SIGNAL_FUNCTIONS: dict[str, Callable[[Lead], float]] = {
    "email": email_signal,
    "mx": mx_signal,
    "website": website_signal,
    "rating": rating_signal,
    "reviews": reviews_signal,
}


class Scorer:
    """Rates a lead from the signals the earlier enrichers left on it."""

    name = "score"
    order = 1000

    def __init__(self, options: ScoringOptions) -> None:
        weights = {**DEFAULT_WEIGHTS, **options.weights}
        total = sum(weights.values())
        self.weights = {name: weights[name] / total for name in SIGNALS}

    async def enrich(self, lead: Lead) -> Enrichment:
        """The score, with each signal and what it contributed."""
        signals = {name: round(_SIGNAL_FUNCTIONS[name](lead), 3) for name in SIGNALS}
        contributions = {name: round(signals[name] * self.weights[name], 3) for name in SIGNALS}
        score = sum(signals[name] * self.weights[name] for name in SIGNALS)
        capped = cannot_be_written_to(lead) and score > INVALID_CAP
        score = round(min(score, INVALID_CAP) if capped else score, 3)
        data: dict[str, Any] = {
            "score": score,
            "signals": signals,
            "weights": {k: round(v, 3) for k, v in self.weights.items()},
            "contributions": contributions,
            "capped": capped,
        }
        return Enrichment(data=data, lead_fields={"score": score}, confidence=1.0, source="signals")


@hookimpl
def register_config_tables(register: Callable[[str, type], None]) -> None:
    """Declare ``[plugins.scoring]``, so a typo in it is an error at start-up."""
    register("plugins.scoring", ScoringOptions)


@hookimpl
def register_enrichers(register: Callable[[Enricher], None], context: PluginContext) -> None:
    """Provide the ``score`` enricher, configured from ``[plugins.scoring]``."""
    register(Scorer(context.plugin_options("scoring", ScoringOptions)))
