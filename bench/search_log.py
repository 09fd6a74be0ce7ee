"""What the search log costs a search: p50/p95 with the log on and off, under gunicorn.

    .venv/bin/python bench/search_log.py                  # 259 companies, 600 query pairs
    .venv/bin/python bench/search_log.py --queries 1000

Two copies of the site of bench/common.py (SQLite, embedded store, DEBUG off) are served by
gunicorn at once (1 process, 4 threads each), one with SEARCH_LOG_ENABLED=0 and one with =1.
Each distinct query (no cache helps) is sent to both, one right after the other, in alternating
order, to /api/search/ (hybrid) and to the /search/ page: the machine's drift hits both alike,
and the median of the paired differences isolates what the log adds. Also timed alone, in this
process: what a request pays to log a search (the row built and queued), over 20,000 calls.
"""

import argparse
import os
import shutil
import signal
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    distinct_queries,
    free_port,
    percentiles,
    prepare_site,
    serve,
    site_env,
)
from bench.latency import timed_requests  # noqa: E402


def queue_cost(workdir, calls=20_000):
    """Microseconds per ``record_search`` call (the row built and queued; nothing written)."""
    os.environ.update(site_env(workdir))
    import django

    django.setup()
    from django.test.utils import override_settings

    from companies import searchlog
    from companies.search.results import SearchResults

    results = SearchResults("reserve parking from my phone", "hybrid", (), 10, 0, 0, [], [])
    writer = searchlog.LogWriter(maxsize=calls + 1)
    writer._start = lambda: None  # measure the request's side only; nothing is written
    samples = []
    with override_settings(SEARCH_LOG_ENABLED=True):
        original, searchlog.writer = searchlog.writer, writer
        try:
            for _ in range(calls):
                started = time.perf_counter()
                searchlog.record_search(results, surface="api", latency_ms=1.0)
                samples.append((time.perf_counter() - started) * 1e6)
        finally:
            searchlog.writer = original
    return statistics.median(samples), sorted(samples)[int(len(samples) * 0.99)]


def site_copy(workdir):
    """A second folder with the same database and store (an embedded store has one owner)."""
    copy = workdir.with_name(workdir.name + "-log-copy")
    if not (copy / "prepared").exists():
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(workdir, copy, ignore=shutil.ignore_patterns(".lock"))
    return copy


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=600, help="query pairs per surface")
    args = parser.parse_args()

    workdir = prepare_site(259)
    sites = {"off": workdir, "on": site_copy(workdir)}
    pool = distinct_queries(args.queries * 2 + 30)
    servers, ports = {}, {}
    try:
        for log, folder in sites.items():
            ports[log] = free_port()
            env = site_env(folder, SEARCH_LOG_ENABLED="1" if log == "on" else "0")
            servers[log] = serve(env, ports[log])
            timed_requests(ports[log], "/api/search/", [{"q": q} for q in pool[-30:]])
        samples = {(log, surface): [] for log in sites for surface in ("api", "page")}
        for surface, path, queries in (
            ("api", "/api/search/", pool[: args.queries]),
            ("page", "/search/", pool[args.queries : 2 * args.queries]),
        ):
            for i, q in enumerate(queries):
                order = ("off", "on") if i % 2 else ("on", "off")
                for log in order:
                    samples[log, surface] += timed_requests(ports[log], path, [{"q": q}])
                if (i + 1) % 100 == 0:
                    print(f"{surface}: {i + 1}/{len(queries)} query pairs", flush=True)
    finally:
        for server in servers.values():
            server.send_signal(signal.SIGTERM)
            server.wait()

    print(f"\n259 companies, {args.queries} distinct queries per surface, each sent to both")
    print(f"{'request':<10}{'log':>5}{'p50':>9}{'p95':>9}")
    for surface in ("api", "page"):
        for log in ("off", "on"):
            stats = percentiles(samples[log, surface])
            print(f"{surface:<10}{log:>5}{stats['p50']:>9.2f}{stats['p95']:>9.2f}")
        paired = [on - off for on, off in zip(samples["on", surface], samples["off", surface])]
        print(
            f"{surface:<10}{'diff':>5}{statistics.median(paired):>9.2f}"
            "   median of paired differences on - off, ms (goal <= 0.5)"
        )
    p50, p99 = queue_cost(workdir)
    print(f"\nlogging one search on the request path: p50 {p50:.1f} us, p99 {p99:.1f} us")
    print(f"Rerun: .venv/bin/python bench/search_log.py --queries {args.queries}")


if __name__ == "__main__":
    main()
