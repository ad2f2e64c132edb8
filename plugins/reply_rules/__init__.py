"""Built-in plugin ``reply_rules``: the rule-based reply classifier ``rules``.

It says interested, not interested, out of office (with the return date when the
message states one), unsubscribe request, wrong person, or unknown. It is a fallback
that any smarter classifier beats by being more confident.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from outreach.kernel import ReplyCategory, ReplyClassifier, ReplyToClassify, hookimpl

from .return_date import find_return_date
from .rules import match_category


class RuleClassifier:
    """Keyword rules over the reply's own words (quoted text excluded)."""

    name = "rules"

    def __init__(self, today: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._today = today

    async def classify(self, reply: ReplyToClassify) -> ReplyCategory | None:
        """Categorize ``reply``; an auto-reply of the vacation kind is out of office."""
        if reply.auto_reply:
            if reply.auto_subtype == "vacation" or reply.auto_subtype is None:
                returned = find_return_date(
                    f"{reply.subject}\n{reply.full_text or reply.text}",
                    reply.received_at or self._today(),
                    country=reply.country_code,
                )
                return ReplyCategory(
                    category="out_of_office",
                    confidence=0.8,
                    return_date=returned.isoformat() if returned else None,
                    detail="automatic reply",
                )
            return ReplyCategory(
                category="unknown", confidence=0.3, detail=f"automatic ({reply.auto_subtype})"
            )
        matched = match_category(reply.text or reply.full_text)
        if matched is None and reply.subject:
            matched = match_category(reply.subject)
        if matched is None:
            return ReplyCategory(category="unknown", confidence=0.1)
        category, confidence, words = matched
        return ReplyCategory(category=category, confidence=confidence, detail=f"matched '{words}'")


@hookimpl
def register_reply_classifiers(register: Callable[[ReplyClassifier], None]) -> None:
    """Provide the ``rules`` classifier."""
    register(RuleClassifier())
