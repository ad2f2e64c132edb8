"""Mailboxes: the sender identities from the config, mirrored in the store with their pacing.

Each ``[[mailboxes]]`` entry is one identity with its backend, failover senders and
policy. With none configured, one mailbox named ``default`` sends through ``[sender]
backend`` (the ``outbox`` sender unless set). The ``mailboxes`` table keeps what the
config does not: when each mailbox last sent, when it may send next, when it first
sent (for the ramp-up); rows of mailboxes removed from the config stay, inactive.

A mailbox may be *paused* (by the ``reputation`` plugin, after bounces, a spam complaint
or a provider's block): the pause book is that plugin's state ``reputation:paused``
(mailbox name -> ``{"reason", "since", "kind"}``), written with
:meth:`~outreach.kernel.context.PluginContext.save_state`. Its compliance check holds every
message of a paused mailbox back; here the book is read for the status, for
:meth:`MailboxService.assign` (a paused mailbox gets no new leads), and a person resumes
a mailbox with :meth:`MailboxService.resume`.
"""

from __future__ import annotations

import functools
import math
from datetime import date, datetime, timedelta
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import msgspec

from ..config import MailboxSettings
from ..contracts import OutgoingMessage, SendReceipt
from ..errors import ConfigError, NotFound, SendError, SenderUnavailable
from ..store.engine import write_transaction
from ..store.tables import EmailRow, MailboxRow
from ..timezones import local_timezone
from . import audit, plugin_state
from .outbox.messages import make_message_id
from .outbox.policy import cap_for_day, day_start
from .transitions import utcnow

if TYPE_CHECKING:
    from ..runtime import Runtime

#: Email states that used a slot of the day's cap (claimed, whatever happened after).
SENT_STATES = ("sending", "sent", "delivered", "opened", "replied", "categorized", "bounced")

#: Where the pause book lives: the ``reputation`` plugin's state under ``paused``.
PAUSE_PLUGIN, PAUSE_KEY = "reputation", "paused"
#: What a paused mailbox's status says to do.
RESUME_HINT = "resume with `outreach mailboxes resume {name}` or the Mailboxes page"


async def pause_book() -> dict[str, dict[str, Any]]:
    """Every paused mailbox: name -> ``{"reason", "since", "kind"}`` (empty when none is)."""
    value = await plugin_state.load(PAUSE_PLUGIN, PAUSE_KEY, {})
    return value if isinstance(value, dict) else {}


def full_cap_on(mailbox: MailboxSettings, first_sent_at: datetime | None, now: datetime) -> date | None:
    """The day (in the mailbox's timezone) its ramp-up reaches ``daily_cap``.

    None without a ramp-up (the full cap applies from the first day) or when the ramp
    never gets there (``ramp_up_step = 0`` below the cap). Before the first send the ramp
    has not started, so the day is counted from today.
    """
    start, step = mailbox.ramp_up_start, mailbox.ramp_up_step
    if start is None:
        return None
    if start >= mailbox.daily_cap:
        days = 0
    elif step <= 0:
        return None
    else:
        days = math.ceil((mailbox.daily_cap - start) / step)
    reached = (first_sent_at or now) + timedelta(days=days)
    return reached.astimezone(ZoneInfo(mailbox.timezone or local_timezone())).date()


@functools.lru_cache(maxsize=64)
def _parsed(from_address: str) -> tuple[str, str]:
    """A mailbox's display name and address (asked for every email enrolled, so cached)."""
    return parseaddr(from_address)


class MailboxStatus(msgspec.Struct, kw_only=True):
    """A mailbox as the Mailboxes page and ``send --dry-run`` show it."""

    name: str
    from_address: str
    backend: str
    failover: list[str]
    daily_cap: int
    cap_today: int
    sent_today: int
    window: str
    weekdays_only: bool
    min_gap_seconds: int
    timezone: str
    next_send_at: datetime | None = None
    last_sent_at: datetime | None = None
    first_sent_at: datetime | None = None
    #: The day the ramp-up reaches ``daily_cap`` (None: no ramp-up, or it never does).
    full_cap_on: date | None = None
    problem: str | None = None
    #: Paused by the reputation plugin: sends nothing, its queued emails wait.
    paused: bool = False
    #: Why, since when, and how to resume (None when not paused).
    paused_reason: str | None = None
    paused_at: datetime | None = None


class MailboxService:
    """The configured mailboxes, their sender chains and their state."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        configured = list(runtime.settings.mailboxes)
        if not configured:
            configured = [
                MailboxSettings(
                    name="default",
                    from_address=_default_from(runtime.settings.compliance.sender_name),
                    min_gap_seconds=0,
                )
            ]
        names = [m.name for m in configured]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(
                f"Mailbox names must be unique; '{duplicates[0]}' appears twice in [[mailboxes]]."
            )
        self._by_name = {m.name: m for m in configured}

    def names(self) -> list[str]:
        """Mailbox names in config order."""
        return list(self._by_name)

    def settings_of(self, name: str) -> MailboxSettings:
        """The configured settings of mailbox ``name``."""
        try:
            return self._by_name[name]
        except KeyError:
            raise NotFound(
                f"There is no mailbox named '{name}' in the config (there are: {', '.join(self._by_name)})."
            ) from None

    def all_settings(self) -> list[MailboxSettings]:
        """Every configured mailbox."""
        return list(self._by_name.values())

    def timezone_of(self, name: str) -> str:
        """The mailbox's own timezone (for its day and as the recipients' fallback)."""
        return self.settings_of(name).timezone or local_timezone()

    def sender_chain(self, name: str) -> list[str]:
        """Sender names to try for mailbox ``name``: its backend, then its failover senders."""
        mailbox = self.settings_of(name)
        primary = mailbox.backend or self._rt.settings.sender.backend
        failover = mailbox.failover if mailbox.failover is not None else self._rt.settings.sender.failover
        return [primary, *(s for s in failover if s != primary)]

    def sender_name(self, name: str | None) -> str:
        """The display name a template's ``sender_name`` shows for mailbox ``name``."""
        mailbox = self.settings_of(name) if name else next(iter(self._by_name.values()))
        display, address = _parsed(mailbox.from_address)
        return display or self._rt.settings.compliance.sender_name or address.split("@")[0]

    def check_senders(self) -> list[str]:
        """Problems with the configured senders (a backend no plugin provides)."""
        problems = []
        for name in self._by_name:
            for sender in self.sender_chain(name):
                if sender not in self._rt.plugins.senders:
                    available = ", ".join(self._rt.plugins.senders.names()) or "none"
                    problems.append(
                        f"Mailbox '{name}' sends through '{sender}', which no plugin provides "
                        f"(available: {available})."
                    )
        return problems

    async def sync(self) -> None:
        """Mirror the config into the ``mailboxes`` table."""
        now = utcnow()
        async with write_transaction():
            rows = {r["name"]: r for r in await MailboxRow.select(MailboxRow.id, MailboxRow.name)}
            for name, mailbox in self._by_name.items():
                values: dict[Any, Any] = {
                    MailboxRow.from_address: mailbox.from_address,
                    MailboxRow.backend: self.sender_chain(name)[0],
                    MailboxRow.settings: msgspec.to_builtins(mailbox),
                    MailboxRow.active: True,
                    MailboxRow.updated_at: now,
                }
                if name in rows:
                    await MailboxRow.update(values).where(MailboxRow.name == name)
                else:
                    await MailboxRow.insert(
                        MailboxRow(
                            name=name,
                            from_address=mailbox.from_address,
                            backend=values[MailboxRow.backend],
                            settings=values[MailboxRow.settings],
                        )
                    )
            gone = [n for n in rows if n not in self._by_name]
            if gone:
                await MailboxRow.update({MailboxRow.active: False}).where(MailboxRow.name.is_in(gone))

    async def pacing(self) -> dict[str, dict[str, Any]]:
        """Each mailbox's stored pacing: ``next_send_at``, ``last_sent_at``, ``first_sent_at``."""
        rows = await MailboxRow.select(
            MailboxRow.name, MailboxRow.next_send_at, MailboxRow.last_sent_at, MailboxRow.first_sent_at
        )
        return {r["name"]: r for r in rows}

    async def sent_since(self, since: dict[str, datetime]) -> dict[str, int]:
        """How many emails each mailbox has claimed since the given time (its day's start)."""
        counts: dict[str, int] = {}
        for name, start in since.items():
            counts[name] = await EmailRow.count().where(
                (EmailRow.mailbox == name)
                & EmailRow.state.is_in(list(SENT_STATES))
                & (EmailRow.claimed_at >= start)
            )
        return counts

    async def status(self, now: datetime | None = None) -> list[MailboxStatus]:
        """Every configured mailbox with today's count, cap and next send time."""
        now = now or self._rt.clock()
        pacing = await self.pacing()
        starts = {name: day_start(now, self.timezone_of(name)) for name in self._by_name}
        sent = await self.sent_since(starts)
        problems = {p.split("'")[1]: p for p in self.check_senders()}
        paused = await pause_book()
        result = []
        for name, mailbox in self._by_name.items():
            row = pacing.get(name, {})
            chain = self.sender_chain(name)
            pause = paused.get(name)
            result.append(
                MailboxStatus(
                    name=name,
                    from_address=mailbox.from_address,
                    backend=chain[0],
                    failover=chain[1:],
                    daily_cap=mailbox.daily_cap,
                    cap_today=cap_for_day(mailbox, row.get("first_sent_at"), now),
                    sent_today=sent[name],
                    window=mailbox.window,
                    weekdays_only=mailbox.weekdays_only,
                    min_gap_seconds=mailbox.min_gap_seconds,
                    timezone=self.timezone_of(name),
                    next_send_at=row.get("next_send_at"),
                    last_sent_at=row.get("last_sent_at"),
                    first_sent_at=row.get("first_sent_at"),
                    full_cap_on=full_cap_on(mailbox, row.get("first_sent_at"), now),
                    problem=problems.get(name),
                    paused=pause is not None,
                    paused_reason=_pause_text(name, pause) if pause is not None else None,
                    paused_at=_pause_time(pause),
                )
            )
        return result

    async def send_test(self, name: str, to_address: str, *, actor: str) -> SendReceipt:
        """Send a short test email from mailbox ``name`` to ``to_address`` now, failover included."""
        settings = self.settings_of(name)
        if "@" not in parseaddr(to_address)[1]:
            raise SendError(f"'{to_address}' is not an email address.", permanent=True)
        message = OutgoingMessage(
            email_id=0,
            message_id=make_message_id(settings.from_address),
            from_address=settings.from_address,
            to_address=to_address,
            subject=f"outreach test email from mailbox '{name}'",
            text=(
                f"This is a test email from outreach's mailbox '{name}'.\n"
                "If you can read it, the mailbox's sender works.\n"
            ),
            mailbox=name,
        )
        problems: list[str] = []
        for sender_name in self.sender_chain(name):
            sender = self._rt.plugins.senders.get(sender_name)
            try:
                receipt = await sender.send(message)
            except SenderUnavailable as exc:
                problems.append(f"{sender_name}: {exc}" + (f" ({exc.reply})" if exc.reply else ""))
                continue
            except SendError as exc:
                reply = f" The server said: {exc.reply}." if exc.reply else ""
                raise SendError(
                    f"The test email through {sender_name} failed: {exc}.{reply}", permanent=exc.permanent
                ) from None
            async with write_transaction():
                await audit.record(
                    "mailbox", 0, "test_sent", actor, new={"mailbox": name, "sender": sender_name}
                )
            detail = f"{sender_name}" + (f" ({receipt.detail})" if receipt.detail else "")
            return msgspec.structs.replace(receipt, detail=detail)
        raise SendError(
            "No sender of mailbox '" + name + "' could be reached: " + "; ".join(problems) + ".",
            permanent=False,
        )

    async def stranded(self) -> dict[str, int]:
        """Queued emails of mailboxes no longer in the config, counted by mailbox.

        The planner leaves them waiting ("mailbox 'X' is not in the config any more");
        ``outreach outbox move`` or the Outbox page moves them to a configured mailbox.
        """
        rows = await EmailRow.raw(
            "SELECT mailbox, COUNT(*) AS n FROM emails WHERE state = 'queued' GROUP BY mailbox"
        )
        return {row["mailbox"] or "": row["n"] for row in rows if row["mailbox"] not in self._by_name}

    async def assign(self, count: int, among: list[str] | None = None) -> list[str]:
        """Mailboxes for ``count`` new leads, spread by what each may still send today.

        A mailbox's share of first emails follows its remaining capacity today (its
        ramped-up cap minus what it sent), so a mailbox warming up at 10 a day takes
        fewer leads than one allowed 50; a paused mailbox gets none. When no mailbox
        has room left today, the shares follow today's caps; when every mailbox is
        paused, the leads are spread over all of them and wait for a resume. ``among``
        limits the choice to these mailboxes (none of them paused).
        """
        now = self._rt.clock()
        pacing = await self.pacing()
        starts = {name: day_start(now, self.timezone_of(name)) for name in self._by_name}
        sent = await self.sent_since(starts)
        paused = await pause_book()
        caps = {
            name: cap_for_day(mailbox, pacing.get(name, {}).get("first_sent_at"), now)
            for name, mailbox in self._by_name.items()
        }
        active = [name for name in self._by_name if name not in paused and (among is None or name in among)]
        weight = {name: caps[name] - sent[name] for name in active if caps[name] > sent[name]}
        if not weight:
            weight = {name: max(1, caps[name]) for name in active}
        if not weight:
            weight = {name: max(1, mailbox.daily_cap) for name, mailbox in self._by_name.items()}
        load = dict.fromkeys(weight, 0)
        rows = await EmailRow.raw(
            "SELECT mailbox, COUNT(*) AS n FROM emails "
            "WHERE step_number = 1 AND state = 'queued' GROUP BY mailbox"
        )
        for row in rows:
            if row["mailbox"] in load:
                load[row["mailbox"]] = row["n"]
        order = self.names()
        chosen = []
        for _ in range(count):
            name = min(load, key=lambda n: (load[n] / weight[n], order.index(n)))
            load[name] += 1
            chosen.append(name)
        return chosen

    async def resume(self, name: str, *, actor: str) -> bool:
        """Lift the pause of mailbox ``name`` (audited); False when it was not paused."""
        self.settings_of(name)
        book = await pause_book()
        pause = book.pop(name, None)
        if pause is None:
            return False
        await plugin_state.save(PAUSE_PLUGIN, PAUSE_KEY, book)
        async with write_transaction():
            await audit.record(
                "mailbox", 0, "mailbox_resumed", actor, old={"mailbox": name, **pause}, new={"mailbox": name}
            )
        return True

    async def paused(self) -> dict[str, str]:
        """Paused mailboxes still in the config: name -> why, since when, how to resume."""
        return {
            name: _pause_text(name, pause)
            for name, pause in (await pause_book()).items()
            if name in self._by_name
        }


def _pause_time(pause: dict[str, Any] | None) -> datetime | None:
    try:
        return datetime.fromisoformat(pause["since"]) if pause else None
    except (KeyError, TypeError, ValueError):
        return None


def _pause_text(name: str, pause: dict[str, Any]) -> str:
    since = _pause_time(pause)
    when = f" since {since.strftime('%Y-%m-%d %H:%M')} UTC" if since else ""
    return f"paused{when}: {pause.get('reason') or 'no reason given'}; " + RESUME_HINT.format(name=name)


def _default_from(sender_name: str | None) -> str:
    return f"{sender_name or 'outreach'} <outreach@localhost>"
