"""Reading every registered reply source, inside ``outreach serve`` and ``outreach worker``.

One task per source: read what is new, process each message, then wait. A source that
can wait for news itself (IMAP IDLE) is asked to; the others are read again after
``[tracking] poll_seconds``. A source that fails (a server down, a password changed)
is logged and tried again after the same pause; the other sources keep going.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import msgspec
import structlog

from ..protocols import ReplySource

if TYPE_CHECKING:
    from ..runtime import Runtime

log = structlog.get_logger("outreach.inbound")


class PollResult(msgspec.Struct, kw_only=True):
    """What one pass over the sources did."""

    read: int = 0
    processed: int = 0
    skipped: int = 0
    failed: dict[str, str] = {}


class InboundPoller:
    """Reads the reply sources until stopped."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()

    async def read(self, source: ReplySource, result: PollResult) -> None:
        """Process everything new in ``source``, counting into ``result``."""
        async for message in source.fetch():
            result.read += 1
            record = await self._rt.inbound.process(message)
            if record is None:
                result.skipped += 1
            else:
                result.processed += 1

    async def poll_once(self) -> PollResult:
        """One pass over every source (and the stored messages whose effects failed before)."""
        result = PollResult()
        await self._rt.inbound.finish_interrupted()
        for source in self._rt.plugins.reply_sources:
            try:
                await self.read(source, result)
            except Exception as exc:  # one broken mailbox must not stop the others
                log.warning("reply_source_failed", source=source.name, error=str(exc))
                result.failed[source.name] = str(exc)
        return result

    async def _wait(self, source: ReplySource, seconds: float) -> None:
        waiter = getattr(source, "wait", None)
        stop = asyncio.ensure_future(self._stop.wait())
        pause = asyncio.ensure_future(waiter(seconds) if waiter else asyncio.sleep(seconds))
        try:
            await asyncio.wait({stop, pause}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stop, pause):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _run(self, source: ReplySource) -> None:
        seconds = self._rt.settings.tracking.poll_seconds
        while not self._stop.is_set():
            result = PollResult()
            failed = False
            try:
                await self._rt.inbound.finish_interrupted()
                await self.read(source, result)
            except Exception as exc:
                failed = True
                log.warning("reply_source_failed", source=source.name, error=str(exc))
            if result.read:
                log.info("reply_source_read", source=source.name, processed=result.processed)
            if failed:
                await self._pause(seconds)
            else:
                try:
                    await self._wait(source, seconds)
                except Exception as exc:
                    log.warning("reply_source_wait_failed", source=source.name, error=str(exc))
                    await self._pause(seconds)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)

    @property
    def running(self) -> bool:
        """Whether the poller is reading sources in the background."""
        return bool(self._tasks)

    def start(self) -> None:
        """Read every source in the background."""
        self._stop.clear()
        self._tasks = [asyncio.create_task(self._run(source)) for source in self._rt.plugins.reply_sources]
        if self._tasks:
            log.info("inbound_poller_started", sources=len(self._tasks))

    async def stop(self) -> None:
        """Stop reading; a message being processed is finished or left for the next start."""
        self._stop.set()
        tasks, self._tasks = self._tasks, []
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=10)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
