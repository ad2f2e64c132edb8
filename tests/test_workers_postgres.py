"""Four worker processes on one PostgreSQL database: 2,000 emails to one SMTP server, each sent
once, every mailbox's daily cap held across the processes."""

from __future__ import annotations

import asyncio
from collections import Counter

from engine_helpers import LEGAL_TOML, enrolled
from mail_servers import Sink, SinkHandler
from test_crash import claimants, worker

from outreach.kernel.config import load_settings
from outreach.kernel.runtime import Runtime
from outreach.kernel.store.tables import EmailRow

SINGLE_STEP = """
name = "intro"
[[steps]]
subject = "Hello {{ business_name }}"
body = "Hi {{ first_name | default('there') }}, {{ first_line }}"
"""

#: Two mailboxes whose caps together stay below what is queued: the caps decide what goes.
CAPS = {"north": 900, "south": 700}


def config_text(data_dir, url: str, smtp_port: int) -> str:
    boxes = "".join(
        f"""
[[mailboxes]]
name = "{name}"
from_address = "Ann Example <ann@{name}.example>"
daily_cap = {cap}
window = "00:00-24:00"
weekdays_only = false
min_gap_seconds = 0
"""
        for name, cap in CAPS.items()
    )
    return (
        f"""
data_dir = "{data_dir}"

[database]
url = "{url}"

[sender]
backend = "smtp"

[sender.smtp]
host = "127.0.0.1"
port = {smtp_port}
timeout = 10

[sending]
batch_size = 20
rate_limit_per_minute = 0
poll_seconds = 0.2
"""
        + boxes
        + LEGAL_TOML
    )


async def test_four_workers_send_each_email_once_and_hold_the_caps(tmp_path, postgres_url) -> None:
    handler = SinkHandler()
    sink = await Sink(handler).start()
    try:
        config = tmp_path / "outreach.toml"
        config.write_text(config_text(tmp_path / "data", postgres_url, sink.port))
        rt = await Runtime.open(load_settings(config), load_entry_points=False)
        try:
            firsts = await enrolled(rt, 2000, sequence=SINGLE_STEP)
        finally:
            await rt.close()
        assert len(firsts) == 2000
        workers = [await worker(config, "send", "--until-idle") for _ in range(4)]
        results = await asyncio.wait_for(asyncio.gather(*(w.communicate() for w in workers)), timeout=600)
        for process, (_, err) in zip(workers, results, strict=True):
            assert process.returncode == 0, err.decode()
    finally:
        await sink.stop()

    counts = handler.message_ids()
    assert max(counts.values()) == 1, "a Message-ID reached the server twice"
    # Each mailbox sent exactly its cap (the leads were shared out by capacity), no more.
    by_mailbox = Counter(str(r.message["From"]).split("@")[1].split(".")[0] for r in handler.received)
    assert dict(by_mailbox) == CAPS
    rt = await Runtime.open(load_settings(config), load_entry_points=False)
    try:
        rows = await EmailRow.select(EmailRow.state, EmailRow.message_id)
    finally:
        await rt.close()
    assert Counter(r["state"] for r in rows) == {
        "sent": sum(CAPS.values()),
        "queued": 2000 - sum(CAPS.values()),
    }
    assert {r["message_id"] for r in rows if r["state"] == "sent"} == set(counts)
    # Every process took part.
    assert len(await claimants(config)) == 4
