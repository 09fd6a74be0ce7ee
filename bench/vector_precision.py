"""Half-precision float vectors on real embeddings: do float16 stores rank as float32 ones do?

    .venv/bin/python bench/vector_precision.py                  # 50,000 companies
    .venv/bin/python bench/vector_precision.py --size 259       # the demo data
    .venv/bin/python bench/vector_precision.py --oversampling 2 3 4

bench/store_scale.py measures float16 on synthetic vectors; this checks it on the model's own.
It takes the points of a site prepared at float32 by bench/common.py (bench/data.py's companies
embedded by the real model, or the demo data), copies every point (whole-company vector, sentence
vectors, keyword terms, payload) into two fresh embedded stores that differ only in the float
vectors' precision, both with the default int8 copy and vectors on disk, and optimizes them as
an import does. Then each query (the judged ones of bench/queries*.jsonl and phrases in their
style, embedded by the model) asks both stores the store part of the site's hybrid search
(ranking.ranking_requests) at each oversampling (candidates of the int8 search rescored with
the float vectors, per result asked), and both the same request searched exactly.

Printed, per precision and oversampling: disk size, store p50, recall@10 against the exact
search of the float32 vectors (a company scored as high as the exact 10th, within 1e-4,
counts as found: which of tied companies comes first is arbitrary). Then the exact search of
the float16 vectors against that of the float32 ones: recall@10 and score differences.
"""

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH_VAR, ROOT, distinct_queries, prepare_site, site_env  # noqa: E402

SCROLL = 1000
STORAGES = ("float32", "float16")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=50000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument(
        "--oversampling",
        type=float,
        nargs="+",
        default=[2.0, 4.0],
        help="rescored candidates per result, each measured (QDRANT_QUANTIZATION_OVERSAMPLING)",
    )
    args = parser.parse_args()

    # The source of both copies, so at full precision: the site's default is float16.
    site = prepare_site(args.size, QDRANT_VECTOR_DATATYPE="float32")
    os.environ.update(site_env(site))
    import django

    django.setup()
    from companies.search import embedding, keywords, synonyms
    from companies.search.ranking import ranking_requests

    folders = {datatype: BENCH_VAR / f"precision-{args.size}-{datatype}" for datatype in STORAGES}
    stores = copy_points(site, folders)
    texts = judged_queries() + [q for q in distinct_queries(args.queries) if q]
    texts = list(dict.fromkeys(texts))[: args.queries]
    requests = []
    for text in texts:
        words = synonyms.expanded(text)
        dense = embedding.embed_query(text)
        requests.append(ranking_requests(text, dense, keywords.query_terms(words))[0])

    configs = [(d, o) for d in STORAGES for o in args.oversampling]
    tops, timings, scores = {}, {config: [] for config in configs}, {}
    for store in stores.values():
        for request in requests[:20]:  # warm-up: the vector files' pages read in
            store.rank(request)
    for number, request in enumerate(requests):
        for config in configs:
            store = stores[config[0]]
            store.storage = replace(store.storage, oversampling=config[1])
            samples = []
            for _ in range(3):
                begun = time.perf_counter()
                ranked = store.rank(request)
                samples.append((time.perf_counter() - begun) * 1000)
            timings[config].append(min(samples))
            tops[config, number] = [p.id for p in ranked[:10]]
        exact = stores["float32"].rank(replace(request, exact=True))
        scores["exact", number] = {p.id: p.score for p in exact}
        halves = stores["float16"].rank(replace(request, exact=True))
        scores["float16 exact", number] = {p.id: p.score for p in halves}
    for store in stores.values():
        store.close()

    count = len(requests)
    print(f"\n{args.size:,} companies (real embeddings), {count} queries, hybrid store requests")
    print("| vectors | oversampling | disk MiB | store p50 ms | recall@10 against exact float32 |")
    print("| --- | --- | --- | --- | --- |")
    for datatype, oversampling in configs:
        recall = statistics.mean(
            _recall_with_ties(tops[(datatype, oversampling), n], scores["exact", n])
            for n in range(count)
        )
        disk = sum(f.stat().st_blocks * 512 for f in folders[datatype].rglob("*") if f.is_file())
        p50 = statistics.median(timings[datatype, oversampling])
        print(f"| {datatype} | {oversampling:g} | {disk / 2**20:,.0f} | {p50:.2f} | {recall:.3f} |")
    exact_recall = statistics.mean(
        _recall_with_ties(
            sorted(scores["float16 exact", n], key=scores["float16 exact", n].get)[::-1][:10],
            scores["exact", n],
        )
        for n in range(count)
    )
    differences = [
        abs(scores["exact", n][pk] - scores["float16 exact", n][pk])
        for n in range(count)
        for pk in set(scores["exact", n]) & set(scores["float16 exact", n])
    ]
    print(
        f"\nExact search of the float16 vectors against exact float32: recall@10 "
        f"{exact_recall:.4f}; score differences for the same company: median "
        f"{statistics.median(differences):.1e}, max {max(differences):.1e}"
    )
    print(
        "Rerun: .venv/bin/python bench/vector_precision.py"
        + (f" --size {args.size}" if args.size != 50000 else "")
        + (f" --oversampling {' '.join(f'{o:g}' for o in args.oversampling)}")
    )


def _recall_with_ties(top, exact_scores, k=10, tolerance=1e-4):
    """Recall@k of ``top``, a company counting as found if exact search scores it as high as
    its k-th within ``tolerance``: companies alike score alike, and which of tied points comes
    first is arbitrary."""
    k = min(k, len(exact_scores))
    if not k:
        return 1.0
    kth = sorted(exact_scores.values(), reverse=True)[k - 1]
    return sum(exact_scores.get(pk, -1) >= kth - tolerance for pk in top[:k]) / k


def judged_queries():

    texts = []
    for name in ("queries.jsonl", "queries_typo.jsonl", "queries_names.jsonl"):
        for line in (ROOT / "bench" / name).read_text().splitlines():
            if line:
                texts.append(json.loads(line)["query"])
    return texts


def copy_points(site, folders):
    """The two stores, each with every point of ``site``'s index (copied once)."""
    from companies.search.indexing import index_metadata
    from companies.search.plan import DENSE, SENTENCES, SPARSE
    from companies.search.storage import VectorStorage
    from companies.search.store import IndexPoint
    from companies.search.store_edge import EdgeStore, edge

    stores = {}
    for datatype, folder in folders.items():
        storage = VectorStorage(datatype=datatype.split("-")[0])
        done = folder / "copied"
        if done.exists():
            stores[datatype] = EdgeStore(folder / "qdrant", name="companies", storage=storage)
            continue
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        source = EdgeStore(site / "qdrant", name="companies")
        config = site / "qdrant" / source.live_target() / "edge_config.json"
        if json.loads(config.read_text())["vectors"][DENSE].get("datatype", "float32") != "float32":
            sys.exit(f"{site} holds half-precision vectors: the copies need float32 ones")
        target = EdgeStore(folder / "qdrant", name="companies", storage=storage)
        target.ensure_index(index_metadata())
        handle, offset, copied, started = source._live(), None, 0, time.perf_counter()
        while True:
            records, offset = handle.scroll(
                edge.ScrollRequest(offset=offset, limit=SCROLL, with_payload=True, with_vector=True)
            )
            target.upsert(
                [
                    IndexPoint(
                        id=int(r.id),
                        dense=r.vector[DENSE],
                        sentences=r.vector[SENTENCES],
                        sparse=(r.vector[SPARSE].indices, r.vector[SPARSE].values),
                        payload=r.payload,
                    )
                    for r in records
                ]
            )
            copied += len(records)
            rate = copied / (time.perf_counter() - started)
            print(f"  {datatype}: {copied:,} points copied ({rate:,.0f}/s)", flush=True)
            if offset is None:
                break
        target.optimize()
        source.close()
        done.write_text("ok")
        stores[datatype] = target
    return stores


if __name__ == "__main__":
    main()
