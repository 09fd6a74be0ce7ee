"""Query latency under gunicorn against the bare cost, per mode and city filter, in one run.

    .venv/bin/python bench/latency.py                       # 259, 10,000 and 50,000 companies
    .venv/bin/python bench/latency.py --sizes 259 --queries 500

For each size (sites are prepared once under var/bench/, see bench/common.py):
1. bare cost, in a process of its own with the store: for every query, a fresh query embedding
   (no cache) plus one store call, timed alone. "vector" is the irreducible minimum (one dense
   nearest-neighbour search, limit 10); "store" is the ranking call the site makes for that
   mode and filter (candidates, rescoring, fusion, the unfiltered ranking for facets; for
   keyword mode the BM25 ranking of the first page, without the facet counts).
   Also timed alone: query understanding (spelling correction and places), part of every
   request's cost, whose goal is to add at most 1 ms at the median.
2. gunicorn (1 process, 4 threads, DEBUG off) serving the site; a second process (this one)
   sends the same distinct queries one at a time over a kept-alive connection to
   /api/search/ for each mode, without and with a city filter, and to the /search/ page.
Every query string is different, so no cache helps. Prints p50/p95/p99 in ms, API p50 over bare
p50, and the RSS of the gunicorn process after the run.
"""

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    ROOT,
    distinct_queries,
    free_port,
    percentiles,
    prepare_site,
    rss_mib,
    serve,
    site_env,
    worker_pid,
)

MODES = ("hybrid", "semantic", "keyword")

BARE = """
import json, sys, time
import django
django.setup()
from companies.models import text_key
from companies.search import embedding, keywords, ranking as search, understanding
from companies.search.indexing import open_index
from companies.search.plan import RankRequest

batches, city = json.loads(sys.stdin.read())
store = open_index()
model = embedding.get_model()
timings = {}
def timed(label, function):
    started = time.perf_counter()
    function()
    timings.setdefault(label, []).append((time.perf_counter() - started) * 1000)

for q in batches["warm"]:
    store.rank(RankRequest(dense=list(model.query_embed([q]))[0].tolist(), limit=10))
    understanding.understand(q, mode="hybrid")
for label, queries in batches.items():
    if label == "warm":
        continue
    mode, filtered = label.split()
    cities = (text_key(city),) if filtered == "True" else ()
    for q in queries:
        vector = None
        def embed():
            global vector
            vector = list(model.query_embed([q]))[0].tolist()
        timed("embed", embed)
        timed(f"understand {mode}", lambda: understanding.understand(q, mode=mode))
        timed("vector", lambda: store.rank(RankRequest(dense=vector, limit=10, candidates=10)))
        requests = search.ranking_requests(
            q, None if mode == "keyword" else vector,
            None if mode == "semantic" else keywords.query_terms(q), cities)
        timed(f"store {label}", lambda: store.rank_batch(requests))
print(json.dumps(timings))
"""


def bare_costs(env, batches, city):
    result = subprocess.run(
        [sys.executable, "-c", BARE],
        input=json.dumps([batches, city]),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def timed_requests(port, path, params_list):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    samples = []
    for params in params_list:
        started = time.perf_counter()
        connection.request("GET", f"{path}?{urlencode(params, doseq=True)}")
        response = connection.getresponse()
        response.read()
        samples.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            sys.exit(f"{path} {params} answered {response.status}")
    return samples


def run_size(size, count, threads):
    workdir = prepare_site(size)
    env = site_env(workdir, EMBEDDING_THREADS=str(threads))
    city = "Chicago" if size == 259 else "London"
    # Every request gets a query of its own: no cache can answer it.
    labels = [f"{mode} {filtered}" for mode in MODES for filtered in (False, True)]
    pool = distinct_queries(count * (len(labels) + 2) + 30)
    batches = {label: pool[i * count : (i + 1) * count] for i, label in enumerate(labels)}
    page_queries = pool[len(labels) * count : (len(labels) + 1) * count]
    batches["warm"] = pool[-30:]
    bare = {
        label: percentiles(samples) for label, samples in bare_costs(env, batches, city).items()
    }
    embed = bare["embed"]["p50"]

    port = free_port()
    server = serve(
        env,
        port,
        ready="/api/search/?q=warm+up",
        worker_class=os.environ.get("BENCH_WORKER_CLASS", "gthread"),
    )
    rows = []
    try:
        timed_requests(port, "/api/search/", [{"q": q} for q in batches["warm"]])
        for mode in MODES:
            for filtered in (False, True):
                params = [
                    {"q": q, "mode": mode, **({"city": city} if filtered else {})}
                    for q in batches[f"{mode} {filtered}"]
                ]
                api = percentiles(timed_requests(port, "/api/search/", params))
                store = bare[f"store {mode} {filtered}"]["p50"]
                rows.append(
                    (
                        f"/api/search/ {mode}{' +city' if filtered else ''}",
                        api,
                        embed + store if mode != "keyword" else store,
                    )
                )
        page = percentiles(timed_requests(port, "/search/", [{"q": q} for q in page_queries]))
        rows.append(("/search/ page hybrid", page, embed + bare["store hybrid False"]["p50"]))
        rss = rss_mib(worker_pid(server.pid))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()

    print(f"\n{size:,} companies, {count} distinct queries, {os.cpu_count()} cores")
    print(f"bare p50: embed {embed:.2f} ms, one vector search {bare['vector']['p50']:.2f} ms")
    print(f"{'request':<32}{'p50':>8}{'p95':>8}{'p99':>8}{'bare':>8}{'p50/bare':>10}{'store':>8}")
    for label, stats, bare_p50 in rows:
        key = label.split()[1] if label.startswith("/api") else "hybrid"
        store_p50 = bare[f"store {key} {'+city' in label}"]["p50"]
        print(
            f"{label:<32}{stats['p50']:>8.2f}{stats['p95']:>8.2f}{stats['p99']:>8.2f}"
            f"{bare_p50:>8.2f}{stats['p50'] / bare_p50:>10.2f}{store_p50:>8.2f}"
        )
    api_p50 = [stats["p50"] for label, stats, _ in rows if label.startswith("/api")]
    print(f"slowest / fastest API p50: {max(api_p50) / min(api_p50):.2f} (goal <= 2)")
    for mode in MODES:
        cost = bare[f"understand {mode}"]
        print(
            f"query understanding ({mode}: typos, places): p50 {cost['p50']:.3f} ms, "
            f"p95 {cost['p95']:.3f} ms, p99 {cost['p99']:.3f} ms (goal: p50 <= 1 ms)"
        )
    print(f"gunicorn worker RSS after the run: {rss:.0f} MiB")
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="259,10000,50000")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="ONNX threads of the model, in the bare measurement and the site",
    )
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        run_size(size, args.queries, args.threads)
    print(
        "\nbare = query embedding + the site's own store call for that mode and filter "
        "(keyword: the store call alone), each p50 measured alone in the same run."
    )
    print(f"Rerun: .venv/bin/python bench/latency.py --sizes {args.sizes} --queries {args.queries}")


if __name__ == "__main__":
    main()
