"""Work signals between processes: "work was queued", said once and heard by every worker.

On PostgreSQL a signal is a ``NOTIFY`` on :data:`CHANNEL`; each process ``LISTEN``\\s on a
connection of its own (a pooled one would be handed to queries and lose the
subscription), and wakes its job runner or outbox worker at once. A lost connection
is opened again with a growing pause; meanwhile the workers find their work by polling,
as they always do. SQLite has no such channel: :class:`PollingOnly` says nothing and
hears nothing, and the workers poll.

The interface is three calls: :meth:`WorkSignals.start` with the function to call per
topic heard, :meth:`WorkSignals.publish` after a commit, :meth:`WorkSignals.close`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Protocol

import structlog

from .engine import current_engine, is_postgres

log = structlog.get_logger("outreach.notify")

#: The PostgreSQL channel every outreach process listens on.
CHANNEL = "outreach_work"
#: A job was queued (submitted, resumed, taken over).
JOBS = "jobs"
#: Emails were queued (enrolled, retried, follow-ups).
OUTBOX = "outbox"
TOPICS = (JOBS, OUTBOX)

Listener = Callable[[str], None]


class WorkSignals(Protocol):
    """Tells other processes that work was queued, and hears what they tell."""

    async def start(self, on_signal: Listener) -> None:
        """Start hearing signals; ``on_signal(topic)`` is called for each one (and for every
        topic after a reconnection, since signals may have been missed meanwhile)."""

    def publish(self, topic: str) -> None:
        """Tell every process (this one too) that work of ``topic`` was queued; never waits."""

    async def close(self) -> None:
        """Stop hearing and drop the connection."""


class PollingOnly:
    """No signals (SQLite): every worker finds its work by polling."""

    async def start(self, on_signal: Listener) -> None:
        """Nothing to hear."""

    def publish(self, topic: str) -> None:
        """Nothing to say."""

    async def close(self) -> None:
        """Nothing to close."""


async def publish_in_transaction(topic: str) -> None:
    """Signal ``topic`` from the current write transaction: PostgreSQL delivers it at commit,
    and not at all after a rollback (a no-op on SQLite)."""
    engine = current_engine()
    if is_postgres(engine) and topic in TOPICS:
        await engine.run_ddl(f"SELECT pg_notify('{CHANNEL}', '{topic}')")


class PostgresSignals:
    """``LISTEN``/``NOTIFY`` on a dedicated asyncpg connection, reopened when it is lost."""

    def __init__(
        self, engine: Any, *, first_pause: float = 0.5, longest_pause: float = 30.0, check_every: float = 15.0
    ) -> None:
        self._engine = engine
        self._dsn = engine.config["dsn"]
        self._first_pause = first_pause
        self._longest_pause = longest_pause
        self._check_every = check_every
        self._connection: Any = None
        self._task: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()
        #: Set once a connection listens (tests wait for it).
        self.listening = asyncio.Event()

    @property
    def backend_pid(self) -> int | None:
        """The server process of the listening connection (as ``pg_stat_activity`` names it), if any."""
        connection = self._connection
        return None if connection is None or connection.is_closed() else connection.get_server_pid()

    async def start(self, on_signal: Listener) -> None:
        """Listen in the background; returns once the first attempt to connect is over."""
        if self._task is not None:
            return
        first = asyncio.Event()
        self._task = asyncio.create_task(self._listen_forever(on_signal, first), name="work-signals")
        await first.wait()

    def publish(self, topic: str) -> None:
        """Send ``NOTIFY`` in the background, on the listening connection or (in a process that
        does not listen, a command) on one of the store's; if neither works, polling finds the work."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._send(topic))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _send(self, topic: str) -> None:
        connection = self._connection
        try:
            if connection is not None and not connection.is_closed():
                await connection.execute("SELECT pg_notify($1, $2)", CHANNEL, topic)
            elif self._engine.pool is not None:
                await self._engine.pool.execute("SELECT pg_notify($1, $2)", CHANNEL, topic)
        except Exception as exc:  # the others' polling finds the work
            log.info("work_signal_not_sent", topic=topic, error=str(exc))

    async def close(self) -> None:
        """Let the signals being sent go out, then stop listening and close the connection."""
        if self._sends:
            await asyncio.wait(self._sends, timeout=5)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _listen_forever(self, on_signal: Listener, first: asyncio.Event) -> None:
        import asyncpg

        pause = self._first_pause
        lost_before = False
        while True:
            lost = asyncio.Event()
            try:
                connection = await asyncpg.connect(self._dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("work_signals_unavailable", error=str(exc), retry_in=pause)
                first.set()
                await asyncio.sleep(pause)
                pause = min(pause * 2, self._longest_pause)
                continue
            try:
                connection.add_termination_listener(lambda _connection, event=lost: event.set())
                await connection.add_listener(CHANNEL, _hearing(on_signal))
                self._connection = connection
                self.listening.set()
                first.set()
                pause = self._first_pause
                if lost_before:
                    log.info("work_signals_reconnected")
                    # What was said while nobody listened is lost: look for work now.
                    for topic in TOPICS:
                        on_signal(topic)
                while not lost.is_set() and not connection.is_closed():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), self._check_every)
                log.warning("work_signals_lost", retry_in=pause)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("work_signals_lost", error=str(exc), retry_in=pause)
            finally:
                self._connection = None
                self.listening.clear()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(connection.close(), 5)
            lost_before = True
            await asyncio.sleep(pause)
            pause = min(pause * 2, self._longest_pause)


def _hearing(on_signal: Listener) -> Callable[[Any, int, str, str], None]:
    def heard(_connection: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload in TOPICS:
            on_signal(payload)

    return heard


def work_signals(engine: Any) -> WorkSignals:
    """The signals for the store of ``engine``: LISTEN/NOTIFY on PostgreSQL, polling on SQLite."""
    if is_postgres(engine):
        return PostgresSignals(engine)
    return PollingOnly()
