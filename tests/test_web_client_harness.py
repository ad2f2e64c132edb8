"""The web test client leaves the test's event loop running while the app answers: work of
ours holding the write lock finishes, and the request that waits for the lock gets it."""

from __future__ import annotations

import asyncio
import time

from litestar.testing import AsyncTestClient
from test_tracking import sent_with_links

from outreach.kernel.store.engine import write_transaction
from outreach.web.app import create_app


async def test_a_request_that_needs_the_write_lock_waits_only_for_the_holder_to_finish(
    make_settings, make_runtime, data_dir
) -> None:
    rt, _clock, email_id, parsed = await sent_with_links(make_settings, make_runtime, data_dir)
    html = parsed.get_body(("html",)).get_content()
    pixel = html.split('src="https://outreach.example', 1)[1].split('"', 1)[0]
    holding = asyncio.Event()

    async def hold_the_lock() -> None:
        async with write_transaction():
            holding.set()
            await asyncio.sleep(0.5)

    async with AsyncTestClient(app=create_app(rt)) as client:
        holder = asyncio.create_task(hold_the_lock())
        await holding.wait()
        started = time.monotonic()
        answer = await client.get(
            pixel, headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}
        )
        waited = time.monotonic() - started
        await holder
    assert answer.status_code == 200
    # The pixel's write waited for the holder's half second, not SQLite's 30 s busy timeout.
    assert waited < 10
    assert [e.kind for e in await rt.tracking.events([email_id])] == ["open"]
