"""Load: gunicorn on PostgreSQL and Redis under mixed traffic; errors, latency and memory.

    .venv/bin/python bench/load.py                          # 20,000 requests, 16 connections
    .venv/bin/python bench/load.py --requests 40000 --concurrency 32

The site runs as in production, scaled down to one process (the embedded store is owned by one
process, so: gunicorn with 1 worker and threads, DEBUG off): PostgreSQL (``BENCH_DATABASE_URL``,
default a database ``startup_search_load`` on 127.0.0.1, created if missing) and Redis
(``BENCH_CACHE_URL``, default redis://127.0.0.1:6379/13, flushed first) holding the API's throttle
counters, with the rates raised so that the run measures the site, not the limit. The demo data
is imported and indexed once, under var/bench/ (bench/common.py).

This process sends the requests, over kept-alive connections from ``--concurrency`` threads, in
a fixed random mix: API searches in each mode with and without a city filter, the search page
likewise, the home page, company pages, the API's company list, detail, similar companies and
name suggestions, a static file, the health probes, and a few requests that are meant to fail
(an empty query, an unknown company). Each kind has the statuses it must get; any other is an
error. Search queries are drawn from 2,000 distinct ones, so the query cache works as in life,
not on a loop. The gunicorn worker's RSS is sampled throughout; its growth over the second half
of the run (a least-squares slope, MiB per 10,000 requests) tells a leak from a warm-up.

Prints the counts, p50/p95/p99 overall and per kind, the RSS trend, and the command to rerun;
exits 1 on any error or on RSS still growing (slope over ``--max-growth``).
"""

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    distinct_queries,
    free_port,
    percentiles,
    prepare_site,
    rss_mib,
    serve,
    site_env,
    worker_pid,
)

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/startup_search_load"
)
CACHE_URL = os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/13")
MODES = ("hybrid", "semantic", "keyword")
OK = frozenset({200})
# (kind, weight, expected statuses). Weights are per 1,000 requests.
MIX = [
    *[(f"api search {mode}", 60, OK) for mode in MODES],
    *[(f"api search {mode} +city", 40, OK) for mode in MODES],
    *[(f"page search {mode}", 30, OK) for mode in MODES],
    *[(f"page search {mode} +city", 20, OK) for mode in MODES],
    ("page home", 30, OK),
    ("page company", 120, OK),
    ("api companies", 60, OK),
    ("api companies +city", 30, OK),
    ("api company", 90, OK),
    ("api similar", 80, OK),
    ("api suggest", 80, OK),
    ("static file", 20, OK),
    ("healthz", 10, OK),
    ("readyz", 10, OK),
    ("intended 400: empty query", 10, frozenset({400})),
    ("intended 404: unknown company", 10, frozenset({404})),
]
SAMPLE_EVERY = 0.5  # seconds between RSS samples


def get_json(port, path):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path)
    return json.loads(connection.getresponse().read())


def site_companies(port):
    """Every company's id, slug, name and city, read through the API (not counted)."""
    companies, offset = [], 0
    while True:
        page = get_json(port, f"/api/companies/?limit=100&offset={offset}")
        companies += page["results"]
        offset += 100
        if offset >= page["count"]:
            return companies


def plan(count, companies, seed):
    """The requests of the run, in order: ``(kind, path)``."""
    rng = random.Random(seed)
    queries = distinct_queries(2000)
    cities = [c["city"] for c in companies if c["city"]]
    kinds, weights = zip(*[(kind, weight) for kind, weight, _ in MIX])
    requests = []
    for kind in rng.choices(kinds, weights, k=count):
        company = rng.choice(companies)
        params = {}
        if "search" in kind:
            params = {"q": rng.choice(queries), "mode": kind.split()[2]}
            if kind.endswith("+city"):
                params["city"] = rng.choice(cities)
            path = "/api/search/" if kind.startswith("api") else "/search/"
        elif kind == "page home":
            path = "/"
        elif kind == "page company":
            path = f"/companies/{company['slug']}/"
        elif kind.startswith("api companies"):
            path = "/api/companies/"
            params = {
                "limit": rng.choice([10, 20, 50]),
                "offset": rng.randrange(0, 240),
                "ordering": rng.choice(["name", "-created_at", "city"]),
            }
            if kind.endswith("+city"):
                params["city"] = rng.choice(cities)
        elif kind == "api company":
            path = f"/api/companies/{company['id']}/"
        elif kind == "api similar":
            path = f"/api/companies/{company['id']}/similar/"
        elif kind == "api suggest":
            path = "/api/suggest/"
            params = {"q": company["name"][: rng.randint(1, 4)]}
        elif kind == "static file":
            path = "/static/companies/site.css"
        elif kind in ("healthz", "readyz"):
            path = f"/{kind}"
        elif kind.startswith("intended 400"):
            path, params = "/api/search/", {"q": " "}
        else:
            path = f"/companies/no-such-company-{rng.randrange(10**6)}/"
        requests.append((kind, f"{path}?{urlencode(params)}" if params else path))
    return requests


class Run:
    """The shared state of the sending threads and the RSS sampler."""

    def __init__(self, requests):
        self.requests = requests
        self.next = 0
        self.done = 0
        self.lock = threading.Lock()
        self.results = []  # (kind, status, ms)
        self.rss = []  # (requests done, MiB)

    def take(self):
        with self.lock:
            if self.next >= len(self.requests):
                return None
            self.next += 1
            return self.requests[self.next - 1]

    def record(self, kind, status, ms):
        with self.lock:
            self.results.append((kind, status, ms))
            self.done += 1


def send_all(run, port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while (item := run.take()) is not None:
        kind, path = item
        started = time.perf_counter()
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = 0  # a connection error counts as an error
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        run.record(kind, status, (time.perf_counter() - started) * 1000)
    connection.close()


def sample_rss(run, pid, stop):
    while not stop.wait(SAMPLE_EVERY):
        run.rss.append((run.done, rss_mib(pid)))


def slope_per_10k(samples):
    """Least-squares slope of RSS (MiB) against requests done, per 10,000 requests."""
    xs, ys = [x for x, _ in samples], [y for _, y in samples]
    if len(samples) < 3 or max(xs) == min(xs):
        return 0.0
    return statistics.linear_regression(xs, ys).slope * 10_000


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads")
    parser.add_argument("--warmup", type=int, default=500, help="requests before the run")
    parser.add_argument(
        "--max-growth",
        type=float,
        default=5.0,
        help="largest RSS slope over the second half, MiB per 10,000 requests",
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    import redis

    redis.Redis.from_url(CACHE_URL).flushdb()
    workdir = prepare_site(259, database_url=DATABASE_URL)
    env = site_env(workdir, DATABASE_URL=DATABASE_URL, CACHE_URL=CACHE_URL, EMBEDDING_THREADS="1")
    port = free_port()
    server = serve(env, port, args.threads)
    try:
        companies = site_companies(port)
        if len(companies) != 259:
            sys.exit(
                f"The database has {len(companies)} companies, not 259: delete {workdir} "
                "to prepare it again."
            )
        pid = worker_pid(server.pid)
        warmup = Run(plan(args.warmup, companies, args.seed + 1))
        _drive(warmup, port, args.concurrency)
        run = Run(plan(args.requests, companies, args.seed))
        stop = threading.Event()
        sampler = threading.Thread(target=sample_rss, args=(run, pid, stop))
        run.rss.append((0, rss_mib(pid)))
        sampler.start()
        started = time.perf_counter()
        _drive(run, port, args.concurrency)
        elapsed = time.perf_counter() - started
        stop.set()
        sampler.join()
        run.rss.append((run.done, rss_mib(pid)))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    failed = report(run, elapsed, args, warmup)
    sys.exit(1 if failed else 0)


def _drive(run, port, concurrency):
    threads = [threading.Thread(target=send_all, args=(run, port)) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def report(run, elapsed, args, warmup):
    expected = {kind: statuses for kind, _, statuses in MIX}
    errors = Counter(
        (kind, status) for kind, status, _ in run.results if status not in expected[kind]
    )
    warmup_errors = sum(1 for kind, status, _ in warmup.results if status not in expected[kind])
    by_kind = defaultdict(list)
    for kind, _, ms in run.results:
        by_kind[kind].append(ms)
    overall = percentiles([ms for _, _, ms in run.results])
    intended = sum(1 for kind, _, _ in run.results if kind.startswith("intended"))
    second_half = [(n, mib) for n, mib in run.rss if n >= len(run.requests) / 2]
    slope = slope_per_10k(second_half)
    rss_values = [mib for _, mib in run.rss]

    print(
        f"\n{len(run.results):,} requests ({intended} meant to fail) over "
        f"{args.concurrency} connections in {elapsed:.1f} s: "
        f"{len(run.results) / elapsed:.0f} requests/s; {os.cpu_count()} cores"
    )
    print(
        "gunicorn: 1 worker, gthread, "
        f"{args.threads} threads; PostgreSQL; Redis cache; embedded store; DEBUG off"
    )
    print(f"errors: {sum(errors.values())}  (warm-up: {warmup_errors} of {args.warmup})")
    for (kind, status), count in sorted(errors.items()):
        print(f"  {kind}: {count} x {status or 'connection error'}")
    print(
        f"latency ms: p50 {overall['p50']:.1f}  p95 {overall['p95']:.1f}  p99 {overall['p99']:.1f}"
    )
    print(f"\n{'request':<34}{'count':>7}{'p50':>8}{'p95':>8}{'p99':>8}")
    for kind, _, _ in MIX:
        samples = by_kind[kind]
        if len(samples) >= 2:
            stats = percentiles(samples)
            print(
                f"{kind:<34}{len(samples):>7}{stats['p50']:>8.1f}{stats['p95']:>8.1f}"
                f"{stats['p99']:>8.1f}"
            )
    print(
        f"\nworker RSS: {rss_values[0]:.0f} MiB at the start, {max(rss_values):.0f} max, "
        f"{rss_values[-1]:.0f} at the end ({len(run.rss)} samples)"
    )
    growing = slope > args.max_growth
    print(
        f"RSS slope over the second half: {slope:+.2f} MiB per 10,000 requests "
        f"({'GROWING' if growing else 'flat'}; limit {args.max_growth:g})"
    )
    print(
        f"\nRerun: .venv/bin/python bench/load.py --requests {args.requests} "
        f"--concurrency {args.concurrency} --threads {args.threads} --seed {args.seed}"
    )
    return bool(errors) or growing


if __name__ == "__main__":
    main()
