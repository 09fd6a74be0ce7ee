"""The embedded engine decision: the store part of a search at scale, per engine, in one run.

    .venv/bin/python bench/store_engines.py                 # 50,000 companies
    .venv/bin/python bench/store_engines.py --size 10000 --queries 200

The points of a prepared site (bench/common.py, embedded once) are copied, through the same
store interface, into: Qdrant Edge as written (plain segments: exact search), Qdrant Edge after
`optimize()` (HNSW graph for the whole-company vectors, payload indexes), and qdrant-client's
local mode. Each then answers the store part of the site's searches (bench/latency.py's "store"
column: candidates, rescoring, fusion, the unfiltered ranking for facets) for distinct queries,
filtered by a city and not. Recall@10 of each engine's hybrid top 10 against exact Edge.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import distinct_queries, prepare_site, site_env  # noqa: E402

LOCAL_MODE_MAX = 50_000


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    workdir = prepare_site(args.size)
    os.environ.update(site_env(workdir))
    import django

    django.setup()
    from companies.models import text_key
    from companies.search import embedding, keywords
    from companies.search import ranking as search
    from companies.search.engines import close_store
    from companies.search.indexing import index_metadata, open_index
    from companies.search.store import IndexPoint
    from companies.search.store_edge import EdgeStore, edge
    from companies.search.store_qdrant import QdrantServerStore

    source = open_index()
    metadata = index_metadata()
    points = list(read_points(source, edge, IndexPoint))
    close_store()
    print(f"{len(points):,} points copied from {workdir}")

    scratch = Path(tempfile.mkdtemp(prefix="store-engines-"))
    engines = {}
    started = time.perf_counter()
    engines["Edge, plain segments (exact)"] = fill(
        EdgeStore(scratch / "edge", name="bench"), metadata, points
    )
    load_seconds = {"Edge, plain segments (exact)": time.perf_counter() - started}
    started = time.perf_counter()
    optimized = fill(EdgeStore(scratch / "edge-hnsw", name="bench"), metadata, points)
    optimized.optimize()
    engines["Edge after optimize (HNSW)"] = optimized
    load_seconds["Edge after optimize (HNSW)"] = time.perf_counter() - started
    if args.size <= LOCAL_MODE_MAX:
        started = time.perf_counter()
        engines["qdrant-client local mode"] = fill(
            QdrantServerStore.for_local_path(scratch / "local", alias="bench"), metadata, points
        )
        load_seconds["qdrant-client local mode"] = time.perf_counter() - started

    city = text_key("London")
    queries = distinct_queries(args.queries)
    plans = [
        (q, [replace(request, cities=cities) for request in requests])
        for q, requests in (
            (q, search.ranking_requests(q, embedding.embed_query(q), keywords.query_terms(q)))
            for q in queries
        )
        for cities in ((), (city,))
    ]
    exact = {}
    print(f"{'engine':<32}{'load s':>8}{'hybrid p50':>12}{'+city p50':>11}{'recall@10':>11}")
    for label, store in engines.items():
        # Local mode takes seconds per query at this size: a sample of the queries, once each.
        runs, sample = (1, plans[:20]) if "local" in label else (3, plans)
        timings = {False: [], True: []}
        top = {}
        for q, requests in sample:
            samples = []
            for _ in range(runs):
                begun = time.perf_counter()
                ranked = store.rank_batch(requests)[0]
                samples.append((time.perf_counter() - begun) * 1000)
            timings[bool(requests[0].cities)].append(min(samples))
            top[(q, requests[0].cities)] = [point.id for point in ranked[:10]]
        if not exact:
            exact = top
        recall = statistics.mean(
            len(set(top[key]) & set(exact[key])) / max(1, len(exact[key])) for key in top
        )
        print(
            f"{label:<32}{load_seconds[label]:>8.1f}{statistics.median(timings[False]):>12.2f}"
            f"{statistics.median(timings[True]):>11.2f}{recall:>11.3f}"
        )
        store.close()
    shutil.rmtree(scratch, ignore_errors=True)
    print(
        "Times in ms: the store part of a hybrid search (both rankings when filtered). "
        "Goal at 50k: filtered hybrid <= 20 ms p50."
    )
    print(
        f"Rerun: .venv/bin/python bench/store_engines.py --size {args.size} "
        f"--queries {args.queries}"
    )


def read_points(store, edge, IndexPoint):
    """Every point of the prepared site's live index, vectors and payload included."""
    shard = store._live()
    offset = None
    while True:
        records, offset = shard.scroll(
            edge.ScrollRequest(offset=offset, limit=1000, with_payload=True, with_vector=True)
        )
        for record in records:
            vectors = record.vector
            sparse = vectors["keywords"]
            yield IndexPoint(
                id=int(record.id),
                dense=vectors["dense"],
                sentences=vectors["sentences"],
                sparse=(list(sparse.indices), list(sparse.values)),
                payload=record.payload,
            )
        if offset is None:
            return


def fill(store, metadata, points):
    store.ensure_index(metadata)
    for start in range(0, len(points), 500):
        store.upsert(points[start : start + 500])
    return store


if __name__ == "__main__":
    main()
