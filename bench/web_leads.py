"""Benchmark: the web app over 100,000 leads in SQLite.

Run with ``python bench/web_leads.py [--leads 100000] [--requests 200]``. It fills a
fresh data directory (batched inserts), starts a real ``outreach serve`` on a free
loopback port and measures, each beside a baseline taken in the same run:

- the leads fragment (filtered, sorted, paged) vs the ``/healthz`` round trip and vs
  the same page queried with raw SQL through ``sqlite3``;
- the dashboard (page and htmx refresh) vs ``/healthz``;
- a bulk approve of 10,000 leads through the API vs the same change (state, version,
  audit rows) made with raw SQL;
- the serve process's memory (RSS now and at its peak) vs its RSS right after start.

Targets: fragment p95 <= 30 ms, bulk approve <= 2 s, RSS <= 120 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.live_server import LiveServer

from outreach.kernel.config import parse_settings
from outreach.kernel.runtime import Runtime
from outreach.kernel.services.leads import LeadService
from outreach.web.routes.leads import query_from

TOKEN = "bench-token"
CATEGORIES = [
    "Bakery", "Dentist", "Plumber", "Florist", "Cafe", "Barber", "Electrician", "Gym", "Optician", "Bookshop",
    "Veterinarian", "Locksmith", "Tailor", "Pharmacy", "Bike shop", "Yoga studio", "Butcher", "Deli",
    "Notary", "Photographer",
]  # fmt: skip
CITIES = [
    "Austin", "Dallas", "Houston", "Boston", "Denver", "Seattle", "Portland", "Chicago", "Madison", "Tucson",
    "Raleigh", "Omaha", "Tulsa", "Reno", "Boise", "Fresno", "Mesa", "Miami", "Tampa", "Atlanta",
]  # fmt: skip
STATES = ["pending_review"] * 6 + ["discovered", "analyzed", "approved", "rejected"]

#: The fragment requests measured: the filters a reviewer actually uses.
FRAGMENTS = [
    {"state": "pending_review", "category": "Bakery", "sort": "score", "desc": "1", "page": "3"},
    {"state": "pending_review", "location": "Austin", "min_score": "0.5", "sort": "rating", "desc": "1"},
    {"q": "dentist dallas", "sort": "business_name"},
    {"state": "pending_review", "page": "40"},
]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    """Milliseconds per call of ``fn``, ``n`` times."""
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


COLUMNS = (
    "identity_key", "business_name", "category", "categories", "city", "location", "website_url",
    "email", "email_hash", "rating", "review_count", "score", "lifecycle_state", "discovery_source",
    "discovery_metadata", "enrichment", "version", "created_at", "updated_at",
)  # fmt: skip


async def fill(data_dir: Path, count: int) -> float:
    """Create the store (migrated, with its keys) and insert ``count`` leads in batches; return seconds."""
    rt = await Runtime.open(parse_settings({"data_dir": str(data_dir)}), load_entry_points=False)
    vault, path = rt.vault, rt.settings.database_path
    await rt.close()
    rng = random.Random(7)
    now = datetime.now(UTC).isoformat(sep=" ")
    insert = f"INSERT INTO leads ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    start = time.perf_counter()
    db = sqlite3.connect(path)
    for first in range(0, count, 5000):
        rows = []
        for i in range(first, min(count, first + 5000)):
            category, city = rng.choice(CATEGORIES), rng.choice(CITIES)
            email = f"owner{i}@lead{i}.example" if rng.random() < 0.7 else None
            rows.append(
                (
                    f"bench:{i}", f"{category} {i} {city}", category, json.dumps([category]), city,
                    f"{rng.randint(1, 999)} Main St, {city}", f"https://lead{i}.example",
                    vault.encrypt(email), vault.hash_email(email), round(rng.uniform(2.5, 5.0), 1),
                    rng.randint(0, 900), round(rng.random(), 3), rng.choice(STATES), "bench", "{}", "{}", 1,
                    now, now,
                )
            )  # fmt: skip
        with db:
            db.executemany(insert, rows)
    db.close()
    return time.perf_counter() - start


def raw_page_sql(db: sqlite3.Connection, params: dict[str, str]) -> Callable[[], Any]:
    """The same page as the fragment: the very SQL the app runs, through ``sqlite3`` directly."""
    select, count = LeadService.page_queries(query_from(params), brief=True)
    page_sql, count_sql = str(select), str(count)

    def run() -> None:
        db.execute(page_sql).fetchall()
        db.execute(count_sql).fetchone()

    return run


def raw_bulk(db: sqlite3.Connection, ids: list[int]) -> float:
    """Seconds to change ``ids`` to rejected with raw SQL, with version and audit rows."""
    start = time.perf_counter()
    with db:
        for first in range(0, len(ids), 500):
            chunk = ids[first : first + 500]
            marks = ",".join("?" * len(chunk))
            db.execute(
                f"UPDATE leads SET lifecycle_state = 'rejected', version = version + 1 WHERE id IN ({marks})",
                chunk,
            )
        db.executemany(
            "INSERT INTO audit_log (entity, entity_id, action, actor, old_value, new_value, created_at) "
            "VALUES ('lead', ?, 'transition:pending_review->rejected', 'bench', ?, ?, datetime('now'))",
            [(i, '{"lifecycle_state": "pending_review"}', '{"lifecycle_state": "rejected"}') for i in ids],
        )
    return time.perf_counter() - start


def report(label: str, samples: list[float], baseline: list[float], baseline_label: str) -> None:
    p50, p95 = percentile(samples, 0.5), percentile(samples, 0.95)
    b50, b95 = percentile(baseline, 0.5), percentile(baseline, 0.95)
    print(
        f"{label:<34} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms   | {baseline_label:<22} p50 {b50:6.2f} ms"
        f"  p95 {b95:6.2f} ms   | ratio p95 {p95 / b95:5.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--bulk", type=int, default=10_000)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="outreach-bench-"))
    data = root / "data"
    fill_seconds = asyncio.run(fill(data, args.leads))
    print(f"filled {args.leads:,} leads in {fill_seconds:.1f} s ({args.leads / fill_seconds:,.0f} rows/s)")

    config = root / "outreach.toml"
    config.write_text('[web]\naccess_token = "env:OUTREACH_BENCH_TOKEN"\n')
    server = LiveServer(data, config, env={"OUTREACH_BENCH_TOKEN": TOKEN}).start()
    try:
        time.sleep(0.5)
        rss_start = rss_mb(server.pid)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        db = sqlite3.connect(data / "outreach.db")
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            for _ in range(20):  # warm up connections, templates and SQLite's cache
                client.get("/healthz")
                client.get("/leads", params=FRAGMENTS[0], headers={"HX-Request": "true"})
            n = args.requests
            health = timed(lambda: client.get("/healthz").raise_for_status(), n)

            fragment_all: list[float] = []
            raw_all: list[float] = []
            for params in FRAGMENTS:
                answer = client.get("/leads", params=params, headers={"HX-Request": "true"})
                answer.raise_for_status()
                assert "<html" not in answer.text, "the fragment request got a whole page"
                samples = timed(
                    lambda p=params: client.get(
                        "/leads", params=p, headers={"HX-Request": "true"}
                    ).raise_for_status(),
                    n // len(FRAGMENTS),
                )
                raw = timed(raw_page_sql(db, params), n // len(FRAGMENTS))
                fragment_all += samples
                raw_all += raw
                label = "fragment " + "&".join(f"{k}={v}" for k, v in params.items())
                report(label[:34], samples, raw, "raw SQL, same page")
            print()
            report("leads fragment (all of the above)", fragment_all, health, "/healthz round trip")
            report("leads fragment (all of the above)", fragment_all, raw_all, "raw SQL, same pages")

            dashboard = timed(lambda: client.get("/").raise_for_status(), max(20, n // 4))
            refresh = timed(
                lambda: client.get("/", headers={"HX-Request": "true"}).raise_for_status(), max(20, n // 4)
            )
            report("dashboard page", dashboard, health, "/healthz round trip")
            report("dashboard htmx refresh", refresh, health, "/healthz round trip")

            pending = [
                row[0]
                for row in db.execute(
                    "SELECT id FROM leads WHERE lifecycle_state = 'pending_review' ORDER BY id LIMIT ?",
                    (args.bulk * 2,),
                )
            ]
            to_approve, to_raw = pending[: args.bulk], pending[args.bulk : args.bulk * 2]
            start = time.perf_counter()
            answer = client.post("/api/v1/leads/bulk", json={"state": "approved", "ids": to_approve})
            bulk_seconds = time.perf_counter() - start
            answer.raise_for_status()
            changed = len(answer.json()["changed"])
            raw_seconds = raw_bulk(db, to_raw)
            print()
            ratio = bulk_seconds / raw_seconds
            print(
                f"bulk approve of {changed:,} leads via API   {bulk_seconds:6.2f} s"
                f"   | raw SQL, same change     {raw_seconds:6.2f} s   | ratio {ratio:5.1f}x"
            )
        rss_now, rss_peak = rss_mb(server.pid), rss_mb(server.pid, "VmHWM")
        print(
            f"serve RSS now {rss_now:6.1f} MB, peak {rss_peak:6.1f} MB"
            f"   | RSS right after start {rss_start:6.1f} MB   | ratio peak {rss_peak / rss_start:4.2f}x"
        )
        print()
        fragment_p95 = percentile(fragment_all, 0.95)
        for name, value, target, unit in (
            ("fragment p95", fragment_p95, 30, "ms"),
            ("bulk approve", bulk_seconds, 2, "s"),
            ("serve RSS peak", rss_peak, 120, "MB"),
        ):
            verdict = "ok" if value <= target else "OVER TARGET"
            print(f"target {name:<16} {value:8.2f} {unit:<3} <= {target} {unit}: {verdict}")
    finally:
        server.stop()
        if not os.environ.get("OUTREACH_BENCH_KEEP"):
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
