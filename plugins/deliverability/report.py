"""What the doctor found: findings with a status and a fix, per mailbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

OK, WARN, FAIL = "ok", "warn", "fail"
_RANK = {OK: 0, WARN: 1, FAIL: 2}


class Finding(msgspec.Struct, kw_only=True):
    """One thing the doctor looked at.

    ``group`` is ``spf``, ``dkim``, ``dmarc``, ``mx``, ``tls`` or ``from``; ``status``
    is ``ok``, ``warn`` or ``fail``; ``fix`` says in plain words what to change.
    """

    group: str
    check: str
    status: str
    summary: str
    fix: str | None = None
    details: dict[str, Any] = {}


class MailboxReport(msgspec.Struct, kw_only=True):
    """Everything found for one mailbox's From domain."""

    mailbox: str
    from_address: str
    domain: str
    backend: str
    checked_at: datetime
    nameserver: str
    findings: list[Finding] = []

    def status(self, group: str | None = None) -> str:
        """The worst status among the findings of ``group`` (all groups when None); ok for none."""
        found = [f.status for f in self.findings if group is None or f.group == group]
        return max(found, key=_RANK.__getitem__, default=OK)

    def failing(self, group: str) -> list[Finding]:
        """The findings of ``group`` that fail."""
        return [f for f in self.findings if f.group == group and f.status == FAIL]


def worst(*statuses: str) -> str:
    """The worst of ``statuses``."""
    return max(statuses, key=_RANK.__getitem__, default=OK)
