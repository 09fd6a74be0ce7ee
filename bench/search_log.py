"""What the search log costs a search: p50/p95 with the log on and off, under gunicorn.

    .venv/bin/python bench/search_log.py                  # 259 companies, 4 x 300 queries
    .venv/bin/python bench/search_log.py --queries 500 --rounds 6

The site of bench/common.py (SQLite, embedded store, DEBUG off) is served by gunicorn (1 process,
4 threads) with SEARCH_LOG_ENABLED=0, then =1, alternating for ``--rounds`` rounds so drift of
the machine hits both alike. Each round sends distinct queries (no cache helps) one at a time to
/api/search/ (hybrid) and the /search/ page. Also timed alone, in this process: what a request
pays to log a search (building the row and queueing it), over 20,000 calls.
"""

import argparse
import os
import signal
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import distinct_queries, free_port, percentiles, prepare_site, site_env  # noqa: E402
from bench.latency import serve, timed_requests  # noqa: E402


def queue_cost(calls=20_000):
    """Microseconds per ``record_search`` call (row built and queued, writer thread running)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=300, help="per round and surface")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of (off, on)")
    args = parser.parse_args()

    workdir = prepare_site(259)
    pool = distinct_queries(args.queries * args.rounds * 4 + 30)
    samples = {(log, surface): [] for log in ("off", "on") for surface in ("api", "page")}
    chunk = iter(range(0, len(pool), args.queries))
    for round_number in range(args.rounds):
        for log in ("off", "on"):
            env = site_env(workdir, SEARCH_LOG_ENABLED="1" if log == "on" else "0")
            port = free_port()
            server = serve(env, port)
            try:
                timed_requests(port, "/api/search/", [{"q": q} for q in pool[-30:]])  # warm up
                for surface, path in (("api", "/api/search/"), ("page", "/search/")):
                    start = next(chunk)
                    queries = pool[start : start + args.queries]
                    samples[log, surface] += timed_requests(port, path, [{"q": q} for q in queries])
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait()
            print(f"round {round_number + 1}/{args.rounds}, log {log}: done", flush=True)

    print(f"\n259 companies, {args.rounds} rounds x {args.queries} distinct queries per setting")
    print(f"{'request':<24}{'log':>5}{'p50':>9}{'p95':>9}")
    for surface in ("api", "page"):
        for log in ("off", "on"):
            stats = percentiles(samples[log, surface])
            print(f"{surface:<24}{log:>5}{stats['p50']:>9.2f}{stats['p95']:>9.2f}")
        delta = (
            percentiles(samples["on", surface])["p50"] - percentiles(samples["off", surface])["p50"]
        )
        print(f"{surface:<24}{'diff':>5}{delta:>9.2f}   (p50 on - off, ms; goal <= 0.5)")
    p50, p99 = queue_cost()
    print(f"\nlogging one search on the request path: p50 {p50:.1f} us, p99 {p99:.1f} us")
    rerun = f"--queries {args.queries} --rounds {args.rounds}"
    print(f"Rerun: .venv/bin/python bench/search_log.py {rerun}")


if __name__ == "__main__":
    main()
