"""Query latency under gunicorn against the bare cost, per mode and city filter, in one run.

    .venv/bin/python bench/latency.py                       # 259, 10,000 and 50,000 companies
    .venv/bin/python bench/latency.py --sizes 259 --queries 500

For each size (sites are prepared once under var/bench/, see bench/common.py):
1. bare cost, in a process of its own with the store: for every query, a fresh query embedding
   (no cache) plus one store call, timed alone. "vector" is the irreducible minimum (one dense
   nearest-neighbour search, limit 10); "store" is the ranking call the site makes for that
   mode and filter (candidates, rescoring, fusion, the unfiltered ranking for facets; for
   keyword mode the BM25 ranking of the companies holding every word, without the facet
   counts or the looser matches).
   Also timed alone: query understanding (spelling correction and places), part of every
   request's cost, whose goal is to add at most 1 ms at the median.
2. gunicorn (1 process, 4 threads, DEBUG off) serving the site; a second process (this one)
   sends the same distinct queries one at a time over a kept-alive connection to
   /api/search/ for each mode, without and with a city filter, and to the /search/ page.
Every query string is different, so no cache helps; ``--zipf N`` adds N hybrid searches drawn by
popularity from 1,000 queries, where the query cache does. ``--baseline DIR`` serves an older
checkout too (on a copy of the data), each request sent to both in turn: before and after in
one run. Prints p50/p95/p99 in ms, API p50 over bare p50, and the RSS of the gunicorn process
after the run.
"""

import argparse
import http.client
import json
import os
import random
import shutil
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
from companies.search import embedding, keywords, ranking as search, synonyms, understanding
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
        required = (
            keywords.required_terms(synonyms.requirements(q)) if mode == "keyword" else None)
        requests = search.ranking_requests(
            q, None if mode == "keyword" else vector,
            None if mode == "semantic" else keywords.query_terms(q), cities, required=required)
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


class Site:
    """One gunicorn serving the site's code (or a baseline checkout's) on its own copy of the
    prepared data (or with ``env``), with a kept-alive connection."""

    def __init__(self, name, root, workdir, threads, env=None):
        self.name = name
        env = env or site_env(workdir, EMBEDDING_THREADS=str(threads))
        self.port = free_port()
        self.server = serve(
            env,
            self.port,
            ready="/api/search/?q=warm+up",
            worker_class=os.environ.get("BENCH_WORKER_CLASS", "gthread"),
            root=root,
        )
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def get(self, path, params):
        started = time.perf_counter()
        self.connection.request("GET", f"{path}?{urlencode(params, doseq=True)}")
        response = self.connection.getresponse()
        response.read()
        if response.status != 200:
            sys.exit(f"{self.name}: {path} {params} answered {response.status}")
        return (time.perf_counter() - started) * 1000

    def stop(self):
        rss = rss_mib(worker_pid(self.server.pid))
        self.server.send_signal(signal.SIGTERM)
        self.server.wait()
        return rss


def timed_requests(sites, path, params_list):
    """Each request sent to every site in turn (the order alternating), so a busy moment of the
    machine falls on all of them alike; ``{site name: [ms]}``."""
    samples = {site.name: [] for site in sites}
    for number, params in enumerate(params_list):
        for site in sites if number % 2 == 0 else sites[::-1]:
            samples[site.name].append(site.get(path, params))
    return samples


def zipf_mix(pool, count, seed=11, exponent=1.0):
    """``count`` queries drawn from ``pool`` with Zipf-like popularity (the i-th most popular
    asked in proportion to 1/i**exponent), as a site's searches are; a third of the repeats
    typed differently (case, spacing), which the query cache treats as the same query."""
    rng = random.Random(seed)
    weights = [1 / rank**exponent for rank in range(1, len(pool) + 1)]
    mix, seen = [], set()
    for query in rng.choices(pool, weights=weights, k=count):
        if query in seen and rng.random() < 1 / 3:
            query = "  ".join(query.upper().split()) if rng.random() < 0.5 else query.title()
        seen.add(query.lower())
        mix.append(query)
    return mix


def baseline_copy(workdir):
    """A copy of the prepared site for the baseline's server: the embedded store has one owner."""
    copy = workdir.with_name(workdir.name + "-baseline")
    if not (copy / "prepared").exists():
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(workdir, copy)
    return copy


def run_size(size, count, threads, baseline=None, zipf=0):
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

    sites = [Site("after", ROOT, workdir, threads)]
    if baseline:
        sites.insert(0, Site("before", baseline, baseline_copy(workdir), threads))
    names = [site.name for site in sites]
    rows = []
    try:
        timed_requests(sites, "/api/search/", [{"q": q} for q in batches["warm"]])
        for mode in MODES:
            for filtered in (False, True):
                params = [
                    {"q": q, "mode": mode, **({"city": city} if filtered else {})}
                    for q in batches[f"{mode} {filtered}"]
                ]
                api = timed_requests(sites, "/api/search/", params)
                store = bare[f"store {mode} {filtered}"]["p50"]
                rows.append(
                    (
                        f"/api/search/ {mode}{' +city' if filtered else ''}",
                        {name: percentiles(api[name]) for name in names},
                        embed + store if mode != "keyword" else store,
                    )
                )
        page = timed_requests(sites, "/search/", [{"q": q} for q in page_queries])
        rows.append(
            (
                "/search/ page hybrid",
                {name: percentiles(page[name]) for name in names},
                embed + bare["store hybrid False"]["p50"],
            )
        )
        if zipf:
            mix = zipf_mix(distinct_queries(1000, seed=5), zipf)
            popular = timed_requests(sites, "/api/search/", [{"q": q} for q in mix])
            repeats = zipf - len({" ".join(q.lower().split()) for q in mix})
            rows.append(
                (
                    f"/api/search/ hybrid, Zipf mix ({100 * repeats // zipf}% repeats)",
                    {name: percentiles(popular[name]) for name in names},
                    embed + bare["store hybrid False"]["p50"],
                )
            )
    finally:
        rss = {site.name: site.stop() for site in sites}

    print(f"\n{size:,} companies, {count} distinct queries, {os.cpu_count()} cores")
    print(f"bare p50: embed {embed:.2f} ms, one vector search {bare['vector']['p50']:.2f} ms")
    before = "before p50  b/bare" if baseline else ""
    print(
        f"{'request':<48}{'p50':>8}{'p95':>8}{'p99':>8}{'bare':>8}{'p50/bare':>10}{'store':>8}"
        f"  {before}"
    )
    for label, stats, bare_p50 in rows:
        key = label.split()[1].rstrip(",") if label.startswith("/api") else "hybrid"
        store_p50 = bare[f"store {key} {'+city' in label}"]["p50"]
        after = stats["after"]
        line = (
            f"{label:<48}{after['p50']:>8.2f}{after['p95']:>8.2f}{after['p99']:>8.2f}"
            f"{bare_p50:>8.2f}{after['p50'] / bare_p50:>10.2f}{store_p50:>8.2f}"
        )
        if baseline:
            line += f"  {stats['before']['p50']:>10.2f}{stats['before']['p50'] / bare_p50:>8.2f}"
        print(line)
    api_p50 = [
        stats["after"]["p50"]
        for label, stats, _ in rows
        if label.startswith("/api") and "Zipf" not in label
    ]
    print(f"slowest / fastest API p50: {max(api_p50) / min(api_p50):.2f} (goal <= 2)")
    for mode in MODES:
        cost = bare[f"understand {mode}"]
        print(
            f"query understanding ({mode}: typos, places): p50 {cost['p50']:.3f} ms, "
            f"p95 {cost['p95']:.3f} ms, p99 {cost['p99']:.3f} ms (goal: p50 <= 1 ms)"
        )
    for name in names:
        print(f"gunicorn worker RSS after the run ({name}): {rss[name]:.0f} MiB")
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
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of an older commit (git worktree add /tmp/old <commit>): served too, "
        "each request sent to both, its p50 printed beside",
    )
    parser.add_argument(
        "--zipf",
        type=int,
        default=0,
        help="also send this many hybrid searches drawn from 1,000 queries by Zipf-like "
        "popularity (repeats, some typed differently): what the query cache answers",
    )
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        run_size(size, args.queries, args.threads, args.baseline, args.zipf)
    print(
        "\nbare = query embedding + the site's own store call for that mode and filter "
        "(keyword: the store call alone), each p50 measured alone in the same run."
    )
    extra = f" --baseline {args.baseline}" if args.baseline else ""
    extra += f" --zipf {args.zipf}" if args.zipf else ""
    print(
        f"Rerun: .venv/bin/python bench/latency.py --sizes {args.sizes} "
        f"--queries {args.queries}{extra}"
    )


if __name__ == "__main__":
    main()
