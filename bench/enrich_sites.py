"""Benchmark: 1,000 local websites enriched, beside a raw httpx fetch of exactly the same pages.

    python bench/enrich_sites.py [--sites 1000] [--concurrency 8] [--pipeline]

A fixture server in a separate process hosts the sites (``site0001.com`` ...: a
robots.txt, a home page of about 10 kB linking to a contact and an about page); both
clients reach them through it as their HTTP proxy, since the names resolve nowhere.

1. The ``website`` enricher reads every site, ``concurrency`` sites at a time, with its
   per-host delay set to 0 (the delay is a deliberate wait, not work; with the default
   0.5 s a site of four pages takes at least 1.5 s whatever the machine).
2. The baseline fetches exactly the pages the enricher fetched (robots.txt included),
   with one plain ``httpx.AsyncClient``, ``concurrency`` sites at a time, each site's
   pages one after another, and reads the bodies.

With ``--pipeline`` it also runs the whole analysis job (website, email_check against a
DNS server in the fixture process, score; SQLite writes, audit rows, state changes)
over the same sites as leads in each round, and prints that beside the same baseline.

The figure is sites per second; the ratio to the baseline is the one that holds on a
noisy machine (targets: the enricher at least 0.8 of raw fetching, the whole job 0.7).
Each side runs ``--rounds`` times, alternating; the best of each counts, and the ratio
of every round is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from local_sites import Reply, SiteServer, html  # noqa: E402

FILLER = " ".join(["We look after families in the neighbourhood with care and good humour."] * 90)


def site(i: int) -> dict[str, Reply]:
    domain = f"site{i:04d}.com"
    home = html(
        f"<header><h1>Business {i}</h1><nav><a href='/'>Home</a> <a href='/services'>Services</a> "
        f"<a href='/contact'>Contact</a> <a href='/about-us'>About us</a></nav></header>"
        f"<main><p>{FILLER}</p><p>Call (512) 555-{i % 10000:04d}.</p></main>"
        f"<footer><a href='https://www.facebook.com/business{i}'>Facebook</a>"
        f"<a href='https://instagram.com/business{i}'>Instagram</a>"
        f" hello [at] {domain.split('.')[0]} [dot] com"
        f"<img src='/logo@2x.png'></footer>",
        f"Business {i} – local service",
    )
    return {
        "/robots.txt": Reply("User-agent: *\nDisallow: /private\n", content_type="text/plain"),
        "/": home,
        "/contact": html(
            f"<p><a href='mailto:info@{domain}'>info@{domain}</a>, tel. 512-555-0100</p><p>{FILLER}</p>"
        ),
        "/about-us": html(f"<p>Owner: owner@gmail.com</p><p>{FILLER}</p>"),
    }


def serve(count: int, port_pipe: multiprocessing.connection.Connection) -> None:
    """The sites' HTTP server and their DNS server (MX records), in this separate process, so
    that serving costs the measured process nothing, as a real network's servers would."""
    from local_dns import DnsServer

    async def main() -> None:
        server = SiteServer()
        for i in range(count):
            server.add(f"site{i:04d}.com", site(i))
        await server.start()
        records = {f"site{i:04d}.com": {"MX": [(10, "mx.example.net")]} for i in range(count)}
        dns = await DnsServer(records).start()
        port_pipe.send((server.ports[0], dns.port))
        await asyncio.Event().wait()

    asyncio.run(main())


async def bounded(items: list, concurrency: int, work) -> None:  # type: ignore[no-untyped-def]
    pending = iter(items)

    async def worker() -> None:
        for item in pending:
            await work(item)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def enrich_all(proxy: str, urls: list[str], concurrency: int) -> tuple[float, list[list[str]]]:
    from outreach.kernel import Lead
    from outreach.plugins.website import WebsiteEnricher, WebsiteOptions

    enricher = WebsiteEnricher(WebsiteOptions(proxy=proxy, host_delay=0.0))
    fetched: list[list[str]] = [[] for _ in urls]
    found = 0

    async def one(index: int) -> None:
        nonlocal found
        result = await enricher.enrich(Lead(id=index, business_name="b", website_url=urls[index]))
        pages = result.data["pages"]
        fetched[index] = [urls[index].rstrip("/") + "/robots.txt"] + [p["url"] for p in pages]
        found += bool(result.data["emails"])

    started = time.perf_counter()
    await bounded(list(range(len(urls))), concurrency, one)
    elapsed = time.perf_counter() - started
    assert found == len(urls), f"only {found} of {len(urls)} sites yielded an address"
    return elapsed, fetched


async def raw_fetch(proxy: str, pages: list[list[str]], concurrency: int) -> float:
    async with httpx.AsyncClient(proxy=proxy) as client:

        async def one(site_pages: list[str]) -> None:
            for url in site_pages:
                response = await client.get(url)
                response.read()

        started = time.perf_counter()
        await bounded(pages, concurrency, one)
        return time.perf_counter() - started


async def pipeline(proxy: str, dns_port: int, urls: list[str], concurrency: int) -> float:
    from outreach.kernel import DiscoveredBusiness
    from outreach.kernel.config import parse_settings
    from outreach.kernel.runtime import Runtime
    from outreach.kernel.services.analysis import submit_analysis

    with tempfile.TemporaryDirectory() as data_dir:
        settings = parse_settings(
            {
                "data_dir": data_dir,
                "analysis": {"concurrency": concurrency},
                "plugins": {
                    "website": {"proxy": proxy, "host_delay": 0.0},
                    "email_check": {"nameserver": "127.0.0.1", "port": dns_port},
                },
            }
        )
        rt = await Runtime.open(settings, load_entry_points=False)
        for i, url in enumerate(urls):
            await rt.leads.upsert_discovered(
                DiscoveredBusiness(business_name=f"Business {i}", website_url=url), "bench"
            )
        job = await submit_analysis(rt, all=True, actor="bench")
        started = time.perf_counter()
        job = await rt.runner.run_now(job.id)
        elapsed = time.perf_counter() - started
        await rt.close()
    assert job.counters.get("analyzed") == len(urls), job.counters
    return elapsed


async def run(args: argparse.Namespace, proxy: str, dns_port: int) -> None:
    urls = [f"http://site{i:04d}.com/" for i in range(args.sites)]
    await enrich_all(proxy, urls[:20], args.concurrency)  # warm up both sides of the socket
    enrich_times, raw_times, job_times = [], [], []
    for _ in range(args.rounds):
        elapsed, pages = await enrich_all(proxy, urls, args.concurrency)
        enrich_times.append(elapsed)
        raw_times.append(await raw_fetch(proxy, pages, args.concurrency))
        if args.pipeline:
            job_times.append(await pipeline(proxy, dns_port, urls, args.concurrency))
    best_enrich, best_raw = min(enrich_times), min(raw_times)
    requests = sum(len(p) for p in pages)
    n = args.sites
    print(f"sites: {n}, pages fetched per run: {requests}, concurrency: {args.concurrency}")
    print(f"website enricher : {n / best_enrich:8.1f} sites/s  ({best_enrich:.2f} s)")
    print(f"raw httpx fetch  : {n / best_raw:8.1f} sites/s  ({best_raw:.2f} s)")
    print(f"ratio            : {best_raw / best_enrich:8.2f}  (target >= 0.8)")
    rounds = ", ".join(f"{r / e:.2f}" for e, r in zip(enrich_times, raw_times, strict=True))
    print(f"ratio per round  : {rounds}")
    if args.pipeline:
        best = min(job_times)
        print(f"analysis job     : {n / best:8.1f} leads/s ({best:.2f} s; all enrichers and the store)")
        print(f"ratio to raw     : {best_raw / best:8.2f}  (target >= 0.7)")
        rounds = ", ".join(f"{r / j:.2f}" for j, r in zip(job_times, raw_times, strict=True))
        print(f"ratio per round  : {rounds}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating runs of each side; the best counts"
    )
    parser.add_argument("--pipeline", action="store_true", help="also time the whole analysis job")
    args = parser.parse_args()
    receive, send = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.Process(target=serve, args=(args.sites, send), daemon=True)
    server.start()
    try:
        port, dns_port = receive.recv()
        asyncio.run(run(args, f"http://127.0.0.1:{port}", dns_port))
    finally:
        server.terminate()
        server.join()


if __name__ == "__main__":
    main()
