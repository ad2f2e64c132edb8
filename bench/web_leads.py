"""Benchmark: the web app over 100,000 leads in SQLite (or PostgreSQL).

Run with ``python bench/web_leads.py [--leads 100000] [--requests 200] [--database sqlite|postgres]``.
It fills a fresh store (batched inserts), starts a real ``outreach serve`` on a free
loopback port and measures, each beside a baseline taken in the same run:

- the leads fragment (filtered, sorted, paged) vs the ``/healthz`` round trip and vs
  the same page queried with raw SQL (the very statements the app runs) through
  ``sqlite3``, or asyncpg on PostgreSQL;
- the dashboard (page and htmx refresh) vs ``/healthz``;
- a bulk approve of 10,000 leads through the API vs the same change (state, version,
  audit rows) made with raw SQL;
- the serve process's memory (RSS now and at its peak) vs its RSS right after start.

With ``--database postgres`` the store is a fresh database on a throwaway PostgreSQL
server the benchmark starts itself (``tests/pg_cluster.py``: PostgreSQL must be
installed, ``apt-get install postgresql``; as root it runs as the ``postgres`` user),
filled with ``COPY`` and then vacuumed and analyzed, as autovacuum would soon do to a
table that just took 100,000 rows; ``outreach serve`` gets its ``[database] url``.

Targets (either engine): fragment p95 <= 30 ms, bulk approve <= 2 s, RSS <= 120 MB.
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
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from pg_cluster import PostgresCluster
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


#: The audit values of the raw bulk change (what the API's audit rows say).
OLD_STATE, NEW_STATE = '{"lifecycle_state": "pending_review"}', '{"lifecycle_state": "rejected"}'


def lead_rows(count: int, vault: Any, now: Any) -> Iterator[list[tuple[Any, ...]]]:
    """``count`` leads as rows of :data:`COLUMNS`, 5,000 at a time (the same leads every run)."""
    rng = random.Random(7)
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
        yield rows


async def fill(data_dir: Path, count: int, database_url: str | None = None) -> float:
    """Create the store (migrated, with its keys) and insert ``count`` leads in batches; return seconds.

    :param database_url: the PostgreSQL database of the store; the SQLite file in ``data_dir`` when None.
    """
    raw = {"data_dir": str(data_dir), **({"database": {"url": database_url}} if database_url else {})}
    rt = await Runtime.open(parse_settings(raw), load_entry_points=False)
    vault, path = rt.vault, rt.settings.database_path
    await rt.close()
    start = time.perf_counter()
    if database_url:
        connection = await asyncpg.connect(database_url)
        try:
            for rows in lead_rows(count, vault, datetime.now(UTC)):
                await connection.copy_records_to_table("leads", records=rows, columns=COLUMNS)
            # What autovacuum does soon after a big insert: the planner's statistics and the
            # visibility map (index-only scans) of a table in use, not of one just loaded.
            await connection.execute("VACUUM ANALYZE leads")
        finally:
            await connection.close()
        return time.perf_counter() - start
    insert = f"INSERT INTO leads ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    db = sqlite3.connect(path)
    for rows in lead_rows(count, vault, datetime.now(UTC).isoformat(sep=" ")):
        with db:
            db.executemany(insert, rows)
    db.close()
    return time.perf_counter() - start


class RawSQLite:
    """The baselines' direct access to the SQLite store, through ``sqlite3``."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)

    def page(self, params: dict[str, str]) -> Callable[[], Any]:
        """The same page as the fragment: the very SQL the app runs."""
        select, count = LeadService.page_queries(query_from(params), brief=True)
        page_sql, count_sql = str(select), str(count)

        def run() -> None:
            self.db.execute(page_sql).fetchall()
            self.db.execute(count_sql).fetchone()

        return run

    def pending(self, limit: int) -> list[int]:
        """The first ``limit`` ids of leads pending review."""
        sql = "SELECT id FROM leads WHERE lifecycle_state = 'pending_review' ORDER BY id LIMIT ?"
        return [row[0] for row in self.db.execute(sql, (limit,))]

    def bulk(self, ids: list[int]) -> float:
        """Seconds to change ``ids`` to rejected, with version and audit rows."""
        start = time.perf_counter()
        with self.db:
            for first in range(0, len(ids), 500):
                chunk = ids[first : first + 500]
                marks = ",".join("?" * len(chunk))
                self.db.execute(
                    "UPDATE leads SET lifecycle_state = 'rejected', version = version + 1"
                    f" WHERE id IN ({marks})",
                    chunk,
                )
            self.db.executemany(
                "INSERT INTO audit_log (entity, entity_id, action, actor, old_value, new_value, created_at) "
                "VALUES ('lead', ?, 'transition:pending_review->rejected', 'bench', ?, ?, datetime('now'))",
                [(i, OLD_STATE, NEW_STATE) for i in ids],
            )
        return time.perf_counter() - start

    def close(self) -> None:
        self.db.close()


class RawPostgres:
    """The baselines' direct access to the PostgreSQL store: one asyncpg connection on a loop of its own."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.connection = self.loop.run_until_complete(asyncpg.connect(url))

    def page(self, params: dict[str, str]) -> Callable[[], Any]:
        """The same page as the fragment: the very statements and arguments the app sends."""
        select, count = LeadService.page_queries(query_from(params), brief=True)
        page_sql, page_args = select.querystrings[0].compile_string("postgres")
        count_sql, count_args = count.querystrings[0].compile_string("postgres")

        async def both() -> None:
            await self.connection.fetch(page_sql, *page_args)
            await self.connection.fetchrow(count_sql, *count_args)

        return lambda: self.loop.run_until_complete(both())

    def pending(self, limit: int) -> list[int]:
        """The first ``limit`` ids of leads pending review."""
        sql = "SELECT id FROM leads WHERE lifecycle_state = 'pending_review' ORDER BY id LIMIT $1"
        return [row[0] for row in self.loop.run_until_complete(self.connection.fetch(sql, limit))]

    def bulk(self, ids: list[int]) -> float:
        """Seconds to change ``ids`` to rejected, with version and audit rows."""

        async def change() -> None:
            async with self.connection.transaction():
                await self.connection.execute(
                    "UPDATE leads SET lifecycle_state = 'rejected', version = version + 1 WHERE id = ANY($1)",
                    ids,
                )
                await self.connection.execute(
                    "INSERT INTO audit_log"
                    " (entity, entity_id, action, actor, old_value, new_value, created_at)"
                    " SELECT 'lead', id, 'transition:pending_review->rejected', 'bench', $2, $3, now()"
                    " FROM unnest($1::bigint[]) AS id",
                    ids,
                    OLD_STATE,
                    NEW_STATE,
                )

        start = time.perf_counter()
        self.loop.run_until_complete(change())
        return time.perf_counter() - start

    def close(self) -> None:
        self.loop.run_until_complete(self.connection.close())
        self.loop.close()


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
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    cluster = PostgresCluster.start() if args.database == "postgres" else None
    try:
        measure(args, cluster)
    finally:
        if cluster is not None:
            cluster.stop()


def measure(args: argparse.Namespace, cluster: PostgresCluster | None) -> None:
    """Fill a fresh store (a new database of ``cluster``'s when given), serve it, measure and print."""
    root = Path(tempfile.mkdtemp(prefix="outreach-bench-"))
    data = root / "data"
    url = cluster.create_database() if cluster is not None else None
    fill_seconds = asyncio.run(fill(data, args.leads, url))
    engine = f"PostgreSQL {cluster.sql('SHOW server_version')}" if cluster is not None else "SQLite"
    print(
        f"store: {engine}; filled {args.leads:,} leads in {fill_seconds:.1f} s"
        f" ({args.leads / fill_seconds:,.0f} rows/s)"
    )

    config = root / "outreach.toml"
    database = f'[database]\nurl = "{url}"\n' if url else ""
    config.write_text(f'{database}[web]\naccess_token = "env:OUTREACH_BENCH_TOKEN"\n')
    server = LiveServer(data, config, env={"OUTREACH_BENCH_TOKEN": TOKEN}).start()
    db: RawSQLite | RawPostgres | None = None
    try:
        time.sleep(0.5)
        rss_start = rss_mb(server.pid)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        db = RawPostgres(url) if url else RawSQLite(data / "outreach.db")
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
                raw = timed(db.page(params), n // len(FRAGMENTS))
                fragment_all += samples
                raw_all += raw
                label = "fragment " + "&".join(f"{k}={v}" for k, v in params.items())
                report(label[:34], samples, raw, "raw SQL, same page")
            print()
            report("leads fragment (all of the above)", fragment_all, health, "/healthz round trip")
            report("leads fragment (all of the above)", fragment_all, raw_all, "raw SQL, same pages")

            # A failing dashboard is a finding, not a reason to lose the figures after it.
            if (first := client.get("/")).is_success:
                dashboard = timed(lambda: client.get("/").raise_for_status(), max(20, n // 4))
                refresh = timed(
                    lambda: client.get("/", headers={"HX-Request": "true"}).raise_for_status(),
                    max(20, n // 4),
                )
                report("dashboard page", dashboard, health, "/healthz round trip")
                report("dashboard htmx refresh", refresh, health, "/healthz round trip")
            else:
                print(f"dashboard page: FAILED, HTTP {first.status_code} (the serve log says why)")

            pending = db.pending(args.bulk * 2)
            to_approve, to_raw = pending[: args.bulk], pending[args.bulk : args.bulk * 2]
            start = time.perf_counter()
            answer = client.post("/api/v1/leads/bulk", json={"state": "approved", "ids": to_approve})
            bulk_seconds = time.perf_counter() - start
            answer.raise_for_status()
            changed = len(answer.json()["changed"])
            raw_seconds = db.bulk(to_raw)
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
        if db is not None:
            db.close()
        server.stop()
        if not os.environ.get("OUTREACH_BENCH_KEEP"):
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
