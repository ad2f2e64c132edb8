"""Benchmark: inbound mail and tracking requests through outreach, each beside a baseline in the same run.

1. Inbound: 1,000 replies, out-of-office notices and bounces answering emails outreach
   sent are processed one by one as the poller does (analysis, the check for a message
   already seen, the match by In-Reply-To / bounce / address, the encrypted row, the
   state changes, suppression and sequence stops with their audit rows). The baseline is
   the analysis alone (parsing, bounce and auto-reply detection, the reply classifier)
   of the same messages: the ratio says what storing and acting on them costs on top.
2. Tracking: 2,000 open-pixel requests through the whole web app (token check, the
   scanner and proxy rules, the event row, the first open's transition), beside as many
   requests to ``/healthz`` through the same app: the ratio says what a pixel costs
   above the cheapest route.

    python bench/inbound.py [--messages 1000] [--pixels 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from engine_helpers import LEGAL, Clock, enrolled, mailbox
from inbound_helpers import dsn, reply, vacation
from litestar.testing import AsyncTestClient

from outreach.kernel import TRACKING_KEY, InboundMessage, sign_token
from outreach.kernel.config import parse_settings
from outreach.kernel.mail.analysis import analyze_message
from outreach.kernel.runtime import Runtime
from outreach.web import create_app

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
TEXTS = (
    "Yes, I'm interested. Could you call me on Tuesday?",
    "Not interested, thanks.",
    "Please remove me from your list.",
    "I'm not the right person, write to our office manager.",
)


async def sent(data_dir: Path, count: int) -> tuple[Runtime, list]:
    """A runtime where ``count`` first emails went out (through the outbox sender)."""
    settings = parse_settings(
        {
            "data_dir": str(data_dir),
            "mailboxes": [mailbox()],
            "sending": {"rate_limit_per_minute": 0, "batch_size": 500},
            **LEGAL,
        },
        source="bench",
    )
    rt = await Runtime.open(settings, load_entry_points=False)
    rt.clock = Clock()
    firsts = await enrolled(rt, count)
    await rt.outbox.run_until_idle()
    emails = (await rt.emails.list(per_page=count)).items
    assert len(emails) == count
    assert all(e.state == "sent" for e in emails)
    rt.clock.advance(hours=1)
    assert len(firsts) == count
    return rt, emails


def messages_for(emails: list) -> list[bytes]:
    """One inbound message per email: mostly replies, some out-of-office notices and bounces."""
    out = []
    for index, email in enumerate(emails):
        if index % 10 == 8:
            out.append(vacation(email, "December 14, 2026"))
        elif index % 10 == 9:
            out.append(dsn(email, status="5.1.1", diagnostic="550 5.1.1 User unknown"))
        else:
            out.append(reply(email, TEXTS[index % len(TEXTS)]))
    return out


async def inbound_round(count: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        rt, emails = await sent(Path(tmp), count)
        raws = messages_for(emails)
        classifiers = list(rt.plugins.reply_classifiers)
        start = time.perf_counter()
        for raw in raws:
            await analyze_message(raw, classifiers)
        base = time.perf_counter() - start
        start = time.perf_counter()
        for raw in raws:
            assert await rt.inbound.process(InboundMessage(raw=raw, source="bench")) is not None
        full = time.perf_counter() - start
        states = await rt.emails.count_by_state()
        assert states["categorized"] + states["bounced"] + states["delivered"] == count, states
        await rt.close()
    return base, full


async def pixel_round(count: int, emails_count: int = 200) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        rt, emails = await sent(Path(tmp), emails_count)
        key = rt.plugins.context.signing_key(TRACKING_KEY)
        paths = [f"/t/o/{sign_token(key, 'open', emails[i % emails_count].id)}" for i in range(count)]
        headers = {"User-Agent": BROWSER}
        async with AsyncTestClient(app=create_app(rt)) as client:
            start = time.perf_counter()
            for _ in range(count):
                assert (await client.get("/healthz", headers=headers)).status_code == 200
            base = time.perf_counter() - start
            start = time.perf_counter()
            for path in paths:
                assert (await client.get(path, headers=headers)).status_code == 200
            full = time.perf_counter() - start
        assert (await rt.emails.count_by_state())["opened"] == emails_count
        await rt.close()
    return base, full


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--pixels", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    inbound = [await inbound_round(args.messages) for _ in range(args.repeat)]
    pixels = [await pixel_round(args.pixels) for _ in range(args.repeat)]
    n, p = args.messages, args.pixels
    analysis_s, process_s = min(b for b, _ in inbound), min(f for _, f in inbound)
    health_s, pixel_s = min(b for b, _ in pixels), min(f for _, f in pixels)
    print(f"inbound messages: {n}, pixel requests: {p}, best of {args.repeat} runs each")
    print(
        f"baseline  analysis only (parse, classify)      : {analysis_s:6.2f} s  {n / analysis_s:7.0f} msgs/s"
    )
    print(f"inbound   process (analyze, match, store, act) : {process_s:6.2f} s  {n / process_s:7.0f} msgs/s")
    print(f"ratio     process / analysis (throughput)      : {analysis_s / process_s:.2f}")
    print(f"baseline  GET /healthz through the app         : {health_s:6.2f} s  {p / health_s:7.0f} req/s")
    print(f"tracking  GET /t/o/<token> (check, record)     : {pixel_s:6.2f} s  {p / pixel_s:7.0f} req/s")
    print(f"ratio     pixel / healthz (throughput)         : {health_s / pixel_s:.2f}")
    print(
        "runs (s): inbound "
        + ", ".join(f"{b:.2f}/{f:.2f}" for b, f in inbound)
        + "; pixels "
        + ", ".join(f"{b:.2f}/{f:.2f}" for b, f in pixels)
    )


if __name__ == "__main__":
    asyncio.run(main())
