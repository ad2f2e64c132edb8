"""Yielding to the event loop during long loops of CPU work, by time rather than by count.

One event loop serves the web pages, the outbox worker's SMTP conversations and every
job. A server's reply or a browser's request is read only when the loop gets control
back, so every microsecond a loop of planning, recording or rendering keeps it is a
microsecond everything else stands still. Such loops call :func:`breathe` between
items: it reads the clock and yields only once the current slice of work is used up.
"""

from __future__ import annotations

import asyncio
import time

#: The longest a loop keeps the event loop before letting a waiting reply in (seconds).
#: An SMTP server answers a command in about a tenth of a millisecond on a local network.
SLICE_SECONDS = 50e-6

_slice_started = time.perf_counter()


async def breathe() -> None:
    """Let other tasks run if the current slice of work has lasted ``SLICE_SECONDS``."""
    global _slice_started
    if time.perf_counter() - _slice_started >= SLICE_SECONDS:
        await asyncio.sleep(0)
        _slice_started = time.perf_counter()
