"""The mailbox probe: does the domain's best mail server accept this address?

Opt-in (``[plugins.email_check] smtp_probe = true``). For each domain it asks the
mail server with the lowest MX preference, on ``probe_port``, in one conversation
(:mod:`.smtp_session`), and gives each address a verdict:

- ``deliverable``: the server accepted it (250) and refused a random address;
- ``undeliverable``: the server said there is no such mailbox (550/551/553);
- ``catch_all``: the server accepts any address on the domain, a random one too,
  so acceptance proves nothing;
- ``unknown``, with a ``cause``: ``greylisted`` (a 4xx), ``timeout``, ``blocked``
  (the server refused the asker, not the address), ``unreachable`` (no connection
  to the port), ``port_blocked`` (several servers in a row were unreachable, so
  this network is taken to block outbound port 25 and probing rests for
  ``probe_blocked_pause`` seconds), ``disconnected``, ``no_mail_server``,
  ``unexpected_reply`` or ``not_ascii``.

Politeness: one conversation per domain at a time, and ``probe_interval`` seconds
between two conversations with the same domain. Verdicts other than ``unknown`` are
kept for ``probe_cache_ttl`` seconds, and so is knowing that a domain is catch-all; a
server that could not be reached is not tried again for ``probe_blocked_pause``
seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from .mx import MxLookup
from .options import EmailCheckOptions
from .replies import ACCEPTED, judge_rcpt
from .smtp_session import Conversation, Reply, SmtpConversation

#: Every verdict the probe gives.
VERDICTS = ("deliverable", "undeliverable", "catch_all", "unknown")


def _said(reply: Reply | None) -> str:
    return f" ({reply.code} {reply.message})" if reply is not None else ""


def _verdict(
    address: str,
    verdict: str,
    reason: str,
    *,
    cause: str | None = None,
    reply: Reply | None = None,
    host: str | None = None,
) -> dict[str, Any]:
    return {
        "address": address,
        "verdict": verdict,
        "cause": cause,
        "reason": reason,
        "code": reply.code if reply is not None else None,
        "reply": reply.message if reply is not None else None,
        "mx_host": host,
        "cached": False,
    }


def _accepted(talk: Conversation, recipient: str, reply: Reply, domain: str) -> dict[str, Any]:
    """The verdict on an address the server accepted: catch-all, deliverable, or not sure which."""
    host = f"{talk.host}:{talk.port}"
    random = talk.random_reply
    if random is not None and random.code in ACCEPTED:
        reason = (
            f"{host} accepts any address at {domain}, a random one too{_said(random)}, "
            "so accepting this one proves nothing"
        )
        return _verdict(recipient, "catch_all", reason, reply=reply, host=talk.host)
    if random is None:
        # Accepted, but the conversation ended before the random address was asked about.
        why = talk.failure.detail if talk.failure is not None else "it was not asked"
        reason = f"{host} accepted it{_said(reply)}; whether it accepts any address is not known ({why})"
        return _verdict(recipient, "deliverable", reason, reply=reply, host=talk.host) | {
            "catch_all_checked": False
        }
    reason = f"{host} accepted it{_said(reply)} and refused a random address{_said(random)}"
    return _verdict(recipient, "deliverable", reason, reply=reply, host=talk.host) | {
        "catch_all_checked": True
    }


def judge_conversation(
    talk: Conversation, recipients: list[str], domain: str, *, first_only: bool = False
) -> dict[str, dict[str, Any]]:
    """A verdict for each recipient from what the server said.

    With ``first_only``, the recipients after the first accepted one were not asked
    and have no verdict; otherwise one the conversation did not reach shares the
    reason it ended.
    """
    host = f"{talk.host}:{talk.port}"
    verdicts: dict[str, dict[str, Any]] = {}
    for recipient, reply in talk.answers.items():
        verdict, cause = judge_rcpt(reply.code, reply.message)
        if verdict == "deliverable":
            verdicts[recipient] = _accepted(talk, recipient, reply, domain)
        elif verdict == "undeliverable":
            reason = f"{host} said there is no such mailbox{_said(reply)}"
            verdicts[recipient] = _verdict(recipient, verdict, reason, reply=reply, host=talk.host)
        else:
            assert cause is not None
            reason = _unknown_reason(cause, host, reply)
            verdicts[recipient] = _verdict(
                recipient, verdict, reason, cause=cause, reply=reply, host=talk.host
            )
    stopped_early = first_only and any(r.code in ACCEPTED for r in talk.answers.values())
    if talk.failure is not None and not stopped_early:
        failure = talk.failure
        reason = _unknown_reason(failure.cause, host, failure.reply, failure.detail)
        for recipient in recipients:
            verdicts.setdefault(
                recipient,
                _verdict(
                    recipient, "unknown", reason, cause=failure.cause, reply=failure.reply, host=talk.host
                ),
            )
    return verdicts


def _unknown_reason(cause: str, host: str, reply: Reply | None, detail: str = "") -> str:
    said = _said(reply)
    return {
        "greylisted": f"{host} deferred the answer{said}, as greylisting servers do; a later probe may tell",
        "blocked": f"{host} refused to answer this machine{said}; the mailbox was not judged",
        "timeout": f"{host} stopped answering: {detail}",
        "unreachable": f"could not connect to {host}: {detail}; many networks block outbound port 25",
        "disconnected": f"{host} ended the conversation early: {detail}",
    }.get(cause, f"{host} gave an answer the probe cannot read{said}")


class MailboxProbe:
    """Probes mailboxes politely, remembering what it learned."""

    def __init__(
        self, options: EmailCheckOptions, mx: MxLookup, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if options.probe_helo is None or options.probe_from is None:
            raise ValueError("the mailbox probe needs probe_helo and probe_from")
        self.options = options
        self.mx = mx
        self.clock = clock
        self.session = SmtpConversation(options.probe_helo, options.probe_from, options.probe_timeout)
        self._verdicts: dict[str, tuple[float, dict[str, Any]]] = {}
        self._catch_all: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._last_asked: dict[str, float] = {}
        self._unreachable: dict[str, tuple[float, str]] = {}
        self._unreachable_streak = 0
        self._resting_until = 0.0

    async def probe(self, address: str) -> dict[str, Any]:
        """The verdict on one address."""
        return (await self.probe_many([address]))[address]

    async def probe_many(
        self, addresses: list[str], *, first_only: bool = False
    ) -> dict[str, dict[str, Any]]:
        """Verdicts on addresses of one domain, asked in one conversation, in order.

        With ``first_only`` the asking stops at the first address the server accepts,
        and the ones after it have no verdict.
        """
        domain = addresses[0].rpartition("@")[2].lower()
        lock = self._locks.setdefault(domain, asyncio.Lock())
        async with lock:
            # Checked under the lock: a lead on the same domain may just have asked.
            known = self._known(addresses, domain, first_only)
            if known is not None:
                return known
            wait = self._last_asked.get(domain, -1e9) + self.options.probe_interval - self.clock()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                return await self._ask(domain, addresses, first_only)
            finally:
                self._last_asked[domain] = self.clock()

    def _known(self, addresses: list[str], domain: str, first_only: bool) -> dict[str, dict[str, Any]] | None:
        """The answer without a conversation (remembered, or probing rests), or None when one is needed."""
        now = self.clock()
        if now < self._resting_until:
            reason = (
                f"probing rests: {self.options.probe_blocked_after} mail servers in a row could not be "
                "reached, so this network seems to block outbound port 25"
            )
            return {a: _verdict(a, "unknown", reason, cause="port_blocked") for a in addresses}
        unreachable = self._unreachable.get(domain)
        if unreachable is not None and unreachable[0] > now:
            reason = f"{unreachable[1]} (an earlier probe; the server is tried again later)"
            return {
                a: _verdict(a, "unknown", reason, cause="unreachable") | {"cached": True} for a in addresses
            }
        if self._catch_all.get(domain, 0.0) > now:
            return {
                a: _verdict(a, "catch_all", f"{domain} accepts any address (learned by an earlier probe)")
                | {"cached": True}
                for a in addresses
            }
        known: dict[str, dict[str, Any]] = {}
        for address in addresses:
            cached = self._verdicts.get(address.casefold())
            if cached is None or cached[0] <= now:
                return None
            known[address] = {**cached[1], "address": address, "cached": True}
            if first_only and cached[1]["verdict"] == "deliverable":
                break
        return known

    async def _ask(self, domain: str, addresses: list[str], first_only: bool) -> dict[str, dict[str, Any]]:
        unasked = [a for a in addresses if not a.isascii()]
        verdicts = {
            a: _verdict(a, "unknown", "the probe asks only about ASCII addresses", cause="not_ascii")
            for a in unasked
        }
        recipients = [a for a in addresses if a.isascii()]
        if not recipients:
            return verdicts
        answer = await self.mx.lookup(domain)
        if answer.status not in ("ok", "address_only") or not answer.hosts:
            reason = "the domain has no mail server to ask"
            return verdicts | {a: _verdict(a, "unknown", reason, cause="no_mail_server") for a in recipients}
        host = answer.hosts[0]
        ips = await self.mx.addresses(host)
        if not ips:
            reason = f"the mail server {host} has no address in DNS"
            return verdicts | {
                a: _verdict(a, "unknown", reason, cause="unreachable", host=host) for a in recipients
            }
        talk = await self.session.ask(
            host, ips[0], self.options.probe_port, recipients, first_only=first_only
        )
        judged = judge_conversation(talk, recipients, domain, first_only=first_only)
        self._note_reachability(domain, talk, judged)
        self._remember(domain, talk, judged)
        return verdicts | judged

    def _note_reachability(self, domain: str, talk: Conversation, judged: dict[str, dict[str, Any]]) -> None:
        """Remember a server that could not be reached, and count such servers in a row: enough, and
        probing rests."""
        if talk.connected:
            self._unreachable_streak = 0
            return
        reason = next(iter(judged.values()))["reason"]
        self._unreachable[domain] = (self.clock() + self.options.probe_blocked_pause, reason)
        self._unreachable_streak += 1
        if self._unreachable_streak >= self.options.probe_blocked_after:
            self._resting_until = self.clock() + self.options.probe_blocked_pause
            self._unreachable_streak = 0

    def _remember(self, domain: str, talk: Conversation, judged: dict[str, dict[str, Any]]) -> None:
        now = self.clock()
        expires = now + self.options.probe_cache_ttl
        if len(self._verdicts) > 50_000:
            self._verdicts = {k: v for k, v in self._verdicts.items() if v[0] > now}
            self._unreachable = {k: v for k, v in self._unreachable.items() if v[0] > now}
        if talk.random_reply is not None and talk.random_reply.code in ACCEPTED:
            self._catch_all[domain] = expires
        for address, verdict in judged.items():
            if verdict["verdict"] != "unknown":
                self._verdicts[address.casefold()] = (expires, verdict)
