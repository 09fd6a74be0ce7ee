"""The embedded store at scale: each vector storage setting's speed, memory, opening time and
recall, from 10,000 to 1,000,000 companies, in one run.

    .venv/bin/python bench/store_scale.py                              # 10k, 100k, 300k, 1M
    .venv/bin/python bench/store_scale.py --sizes 10000 100000 --storage int8-disk fp32-ram

Points are synthetic and deterministic (no model: 1M companies would take hours to embed), built
the way the site builds them: 1-4 sentence vectors per company around one of 2,000 topics (in
60 themes), the whole-company vector their normalised mean; 6-16 keyword terms per company from
a Zipf vocabulary of 30,000; a city from bench/data.py's Zipf spread. Each store is built once
under var/bench/scale-<size>-<storage>/ (through the store interface, then optimized as an
import does) and reused.

Each is then measured in a fresh process (so memory and opening are what a starting site pays):
seconds to open and answer a first query (and, in a process before, the same without the store's
read-ahead of the files a shard loads: "plain", as Edge opens a shard by itself), the store part
of a hybrid search (candidates by meaning and keywords, rescoring by best sentence, fusion;
limit 200 as the site asks) with a filter on the busiest city and without, recall@10 of each
against the same request by exact float search of the same points, and the process's resident
memory (anonymous and file-mapped) over what it held before opening the store (read before the
exact searches, which read every float vector); and one query embedding, the model's part of a
search, timed in the same conditions. With ``--site``, bench/data.py's companies (ids 1..N, as
the points') are imported once into a SQLite database per size (``import_companies --no-index``,
streamed) and gunicorn serves the site over each store: seconds from starting it to its first
search answered, /api/search/ p50 with and without a city filter, the worker's RSS.

Builds run at a lower priority than the measurements, in processes of their own.

Storage settings (companies/search/storage.py): ``fp32-ram`` float vectors loaded in memory (the
former default); ``fp32-disk`` float vectors memory-mapped; ``int8-ram``/``int8-disk`` an int8
copy of the whole-company vectors in memory, the float ones loaded or memory-mapped;
``int8-disk-fp16`` as ``int8-disk`` with the float vectors stored at half precision.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    BENCH_VAR,
    ROOT,
    distinct_queries,
    percentiles,
    rss_mib,
    site_env,
)
from bench.data import CITIES, generate, zipf_weights  # noqa: E402
from bench.latency import Site, timed_requests  # noqa: E402

DIMENSION = 384
THEMES, TOPICS = 60, 2000
VARIATION = 48
VOCABULARY = 30_000
BATCH = 1000
SEED = 11
STORAGES = {
    "fp32-ram": {"quantization": "none", "on_disk": False, "datatype": "float32"},
    "fp32-disk": {"quantization": "none", "on_disk": True, "datatype": "float32"},
    "int8-ram": {"quantization": "int8", "on_disk": False, "datatype": "float32"},
    "int8-disk": {"quantization": "int8", "on_disk": True, "datatype": "float32"},
    "int8-disk-fp16": {"quantization": "int8", "on_disk": True, "datatype": "float16"},
}


class Synthetic:
    """Deterministic company and query vectors shaped like real embeddings: topics (in themes),
    and around a topic, companies and queries that vary along a few dozen shared directions
    (real embeddings vary along far fewer directions than they have), sentences around their
    company."""

    def __init__(self):
        rng = np.random.default_rng(SEED)
        themes = _unit(rng.normal(size=(THEMES, DIMENSION)))
        self.topics = _unit(
            themes[rng.integers(0, THEMES, TOPICS)]
            + 0.7 * _unit(rng.normal(size=(TOPICS, DIMENSION)))
        )
        self.directions = rng.normal(size=(VARIATION, DIMENSION))
        term_weights = np.array(zipf_weights(VOCABULARY, 1.0))
        self.term_cdf = np.cumsum(term_weights / term_weights.sum())
        city_weights = np.array(zipf_weights(len(CITIES)))
        self.city_p = city_weights / city_weights.sum()

    def around(self, rng, centres, spread, noise=0.1):
        """``centres`` moved by ``spread`` along the shared directions, a little elsewhere."""
        count = len(centres)
        along = _unit(rng.normal(size=(count, VARIATION)) @ self.directions)
        elsewhere = _unit(rng.normal(size=(count, DIMENSION)))
        return _unit(centres + spread * along + noise * elsewhere)

    def batch(self, start, count):
        """Points ``start + 1`` .. ``start + count`` as (id, dense, sentences, sparse, city)."""
        rng = np.random.default_rng([SEED, start])
        centres = self.around(rng, self.topics[rng.integers(0, TOPICS, count)], 0.6)
        counts = rng.integers(1, 5, count)
        cities = rng.choice(len(CITIES), size=count, p=self.city_p)
        for offset in range(count):
            sentences = self.around(
                rng, np.repeat(centres[offset : offset + 1], counts[offset], 0), 0.4
            )
            dense = _unit(sentences.mean(axis=0))
            terms = np.unique(self.terms(rng, rng.integers(6, 17)))
            weights = rng.uniform(0.4, 2.5, len(terms))
            yield (
                start + offset + 1,
                dense.tolist(),
                sentences.tolist(),
                (terms.tolist(), weights.round(3).tolist()),
                CITIES[cities[offset]],
            )

    def terms(self, rng, count):
        """``count`` term ids drawn from the Zipf vocabulary."""
        return np.minimum(np.searchsorted(self.term_cdf, rng.random(count)), VOCABULARY - 1)

    def queries(self, count):
        """``(dense, terms)`` query pairs, drawn like the companies."""
        rng = np.random.default_rng([SEED, 2**40])
        vectors = self.around(rng, self.topics[rng.integers(0, TOPICS, count)], 0.6)
        return [
            (vectors[i].tolist(), tuple(int(t) for t in self.terms(rng, 3))) for i in range(count)
        ]


def _unit(array):
    return array / np.linalg.norm(array, axis=-1, keepdims=True)


def store_folder(size, storage):
    return BENCH_VAR / f"scale-{size}-{storage}"


def build(size, storage):
    """The store of ``size`` synthetic companies with ``storage`` (once; its build figures)."""
    from companies.models import text_key
    from companies.search.indexing import index_metadata
    from companies.search.store import IndexPoint
    from companies.search.store_edge import EdgeStore

    folder = store_folder(size, storage)
    done = folder / "built.json"
    if done.exists():
        return json.loads(done.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    print(f"Building {size:,} companies with {storage} in {folder} (once)...", flush=True)
    store = EdgeStore(folder / "qdrant", name="companies", storage=_vector_storage(storage))
    store.ensure_index(index_metadata())
    synthetic = Synthetic()
    started = time.perf_counter()
    for start in range(0, size, BATCH):
        points = [
            IndexPoint(
                id=pk,
                dense=dense,
                sentences=sentences,
                sparse=sparse,
                payload={
                    "city": text_key(city),
                    "city_name": city,
                    "name_key": f"company {pk}",
                    "hash": "synthetic",
                    "terms": sparse[0],
                },
            )
            for pk, dense, sentences, sparse, city in synthetic.batch(
                start, min(BATCH, size - start)
            )
        ]
        store.upsert(points)
        written = start + len(points)
        if written % (BATCH * 20) == 0 or written == size:
            rate = written / (time.perf_counter() - started)
            print(
                f"  {written:,}/{size:,} written ({rate:,.0f}/s, "
                f"ETA {(size - written) / rate:,.0f} s)",
                flush=True,
            )
    loaded = time.perf_counter() - started
    store.optimize()
    store.close()
    figures = {
        "load_s": loaded,
        "optimize_s": time.perf_counter() - started - loaded,
        "disk_mib": sum(f.stat().st_blocks * 512 for f in folder.rglob("*") if f.is_file()) / 2**20,
    }
    done.write_text(json.dumps(figures))
    print(f"  built in {loaded:.0f} s + optimize {figures['optimize_s']:.0f} s", flush=True)
    return figures


def measure(size, storage, queries, hnsw_ef, oversampling):
    """In this (fresh) process: open, query, recall and memory of one built store."""
    from dataclasses import replace

    from companies.models import text_key
    from companies.search.store_edge import EdgeStore

    pairs = Synthetic().queries(queries + 20)
    city = text_key(CITIES[0])
    requests = [_rank_request(dense, terms) for dense, terms in pairs]
    before = memory()
    storage_config = _vector_storage(storage, hnsw_ef=hnsw_ef)
    if oversampling:
        storage_config = replace(storage_config, oversampling=oversampling)
    started = time.perf_counter()
    store = EdgeStore(
        store_folder(size, storage) / "qdrant", name="companies", storage=storage_config
    )
    store.rank(requests[0])
    opened = time.perf_counter() - started
    for request in requests[1:20]:  # warm-up
        store.rank(replace(request, cities=(city,)))
    figures, tops = {"open_s": opened}, {}
    for label, cities in (("all", ()), ("city", (city,))):
        timings = []
        for number, request in enumerate(requests[20:]):
            request = replace(request, cities=cities)
            samples = []
            for _ in range(3):
                begun = time.perf_counter()
                tops[label, number] = [point.id for point in store.rank(request)[:10]]
                samples.append((time.perf_counter() - begun) * 1000)
            timings.append(min(samples))
        figures[f"p50_{label}"] = statistics.median(timings)
    # Memory before the exact searches below, which read every float vector.
    after = memory()
    figures.update({f"{name}_mib": after[name] - before[name] for name in after})
    for label, cities in (("all", ()), ("city", (city,))):
        recalls = []
        for number, request in enumerate(requests[20:]):
            request = replace(request, cities=cities, exact=True)
            exact = [point.id for point in store.rank(request)[:10]]
            recalls.append(len(set(tops[label, number]) & set(exact)) / max(1, len(exact)))
        figures[f"recall_{label}"] = statistics.mean(recalls)
    figures["rss_total_mib"] = after["rss"]
    store.close()
    figures["embed_p50"] = embed_p50(queries)
    return figures


def _rank_request(dense, terms):
    """The store part of a hybrid search, as the site asks it."""
    from companies.search.plan import RankRequest
    from companies.search.ranking import CANDIDATES, FUSION

    return RankRequest(
        dense=dense, terms=terms, limit=CANDIDATES * 2, candidates=CANDIDATES, fusion=FUSION
    )


def _vector_storage(storage, **options):
    from companies.search.storage import VectorStorage

    return VectorStorage(**STORAGES[storage], **options)


def open_without_read_ahead(size, storage):
    """In this (fresh) process: seconds to open the store and answer a first query as Edge
    opens a shard by itself, without the store's read-ahead of the files it loads."""
    from companies.search import store_edge

    store_edge.read_ahead = lambda folder: 0
    dense, terms = Synthetic().queries(1)[0]
    started = time.perf_counter()
    store = store_edge.EdgeStore(
        store_folder(size, storage) / "qdrant",
        name="companies",
        storage=_vector_storage(storage),
    )
    store.rank(_rank_request(dense, terms))
    opened = time.perf_counter() - started
    store.close()
    return {"open_plain_s": opened}


def embed_p50(count):
    """Median ms of one query embedding (the model's part of every search but keyword ones),
    in the same conditions as the store's timings."""
    from companies.search import embedding

    model = embedding.get_model()
    samples = []
    for query in distinct_queries(count):
        begun = time.perf_counter()
        list(model.query_embed([query]))
        samples.append((time.perf_counter() - begun) * 1000)
    return statistics.median(samples)


def database_file(size):
    return BENCH_VAR / f"scale-{size}.sqlite3"


def site_env_for(size, storage):
    folder = store_folder(size, storage)
    return site_env(
        folder,
        DATABASE_URL=f"sqlite:///{database_file(size)}",
        QDRANT_PATH=str(folder / "qdrant"),
        # No periodic repair: it would find the synthetic points' hashes stale, and re-embed.
        SEARCH_REPAIR_INTERVAL="0",
    )


DATABASE = """
import sys, django
django.setup()
from django.core.management import call_command
from django.db.models import Max, Min
from companies.models import Company, IndexStatus
call_command("migrate", verbosity=0)
call_command("import_companies", sys.argv[1], no_index=True)  # streamed, as the site imports
ids = Company.objects.aggregate(first=Min("pk"), last=Max("pk"))
assert ids["first"] == 1 and ids["last"] == Company.objects.count() == int(sys.argv[2])
Company.objects.update(index_status=IndexStatus.INDEXED)
"""


def prepare_database(size, storage):
    """The sites' SQLite database for ``size``: bench/data.py's ``size`` companies, ids 1..N as
    the points' (once, shared by the stores of that size)."""
    database = database_file(size)
    done = database.with_suffix(".done")
    if done.exists():
        return
    print(f"  importing {size:,} companies into {database} (once)...", flush=True)
    database.unlink(missing_ok=True)
    data = database.with_suffix(".jsonl")
    with open(data, "w") as f:
        for record in generate(size):
            f.write(json.dumps(record) + "\n")
    env = site_env_for(size, storage)
    command = [sys.executable, "-c", DATABASE, str(data), str(size)]
    subprocess.run(command, env=env, cwd=ROOT, check=True, preexec_fn=lower)
    data.unlink()
    done.write_text("ok")


def measure_site(size, storage, queries):
    """gunicorn serving the site over the built store: seconds from starting it to its first
    search answered, API search p50 without and with a city filter (distinct queries, one at a
    time, as bench/latency.py), and the worker's RSS after."""
    prepare_database(size, storage)
    started = time.perf_counter()
    site = Site("site", ROOT, None, None, env=site_env_for(size, storage))
    figures = {"start_s": time.perf_counter() - started}
    try:
        pool = distinct_queries(2 * queries + 20)
        timed_requests([site], "/api/search/", [{"q": q} for q in pool[:20]])
        for label, extra, batch in (
            ("all", {}, pool[20 : 20 + queries]),
            ("city", {"city": "London"}, pool[20 + queries :]),
        ):
            params = [{"q": q, **extra} for q in batch]
            samples = timed_requests([site], "/api/search/", params)["site"]
            figures[f"api_{label}"] = percentiles(samples)["p50"]
    finally:
        figures["web_rss_mib"] = site.stop()
    return figures


def memory():
    status = Path(f"/proc/{os.getpid()}/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in status)
    kib = {
        name: int(fields[key].split()[0])
        for name, key in (("anon", "RssAnon"), ("file", "RssFile"))
    }
    return {"rss": rss_mib(os.getpid()), **{name: value / 1024 for name, value in kib.items()}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10_000, 100_000, 300_000, 1_000_000]
    )
    parser.add_argument("--storage", nargs="+", choices=list(STORAGES), default=["int8-disk"])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--hnsw-ef", type=int, default=None)
    parser.add_argument("--oversampling", type=float, default=None, help="default: storage.py's")
    parser.add_argument(
        "--site", action="store_true", help="also serve the site over each store (slower)"
    )
    parser.add_argument("--build", nargs=2, metavar=("SIZE", "STORAGE"), help=argparse.SUPPRESS)
    parser.add_argument("--measure", nargs=2, metavar=("SIZE", "STORAGE"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--open-plain", nargs=2, metavar=("SIZE", "STORAGE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    env = site_env(BENCH_VAR)
    os.environ.update(env)
    import django

    django.setup()
    if args.build:
        build(int(args.build[0]), args.build[1])
        return
    if args.open_plain:
        print(json.dumps(open_without_read_ahead(int(args.open_plain[0]), args.open_plain[1])))
        return
    if args.measure:
        size, storage = int(args.measure[0]), args.measure[1]
        print(json.dumps(measure(size, storage, args.queries, args.hnsw_ef, args.oversampling)))
        return
    rows = []
    for size in args.sizes:
        for storage in args.storage:
            figures = {**build_apart(size, storage), **measure_apart(size, storage, args)}
            if args.site:
                figures.update(measure_site(size, storage, args.queries))
            rows.append(row(size, storage, figures, args.site))
            print(header(args.site), *rows, sep="\n", flush=True)
    print(
        "p50 ms: the store part of a hybrid search (store), one query embedding (embed) and "
        "/api/search/ (api), all cities / London; recall@10 against exact float search of "
        "the same points; store RSS: the growth of a process from opening the store to the end "
        "(anonymous / file-mapped); "
        "start s: from starting gunicorn to its first search answered."
    )
    options = f" --hnsw-ef {args.hnsw_ef}" if args.hnsw_ef else ""
    options += f" --oversampling {args.oversampling:g}" if args.oversampling else ""
    options += " --site" if args.site else ""
    print(
        f"Rerun: .venv/bin/python bench/store_scale.py --sizes {' '.join(map(str, args.sizes))} "
        f"--storage {' '.join(args.storage)} --queries {args.queries}{options}"
    )


def build_apart(size, storage):
    """``build`` in a process of its own, at a lower priority than the measurements (the
    machine may be shared: the long builds yield, the timings do not)."""
    if not (store_folder(size, storage) / "built.json").exists():
        command = [sys.executable, __file__, "--build", str(size), storage]
        subprocess.run(command, cwd=ROOT, env=site_env(BENCH_VAR), check=True, preexec_fn=lower)
    return build(size, storage)


def lower():
    os.nice(10)


def measure_apart(size, storage, args):
    """``open_without_read_ahead``, then ``measure``, each in a process of its own."""
    command = [sys.executable, __file__, "--measure", str(size), storage]
    command += ["--queries", str(args.queries)]
    if args.oversampling:
        command += ["--oversampling", str(args.oversampling)]
    if args.hnsw_ef:
        command += ["--hnsw-ef", str(args.hnsw_ef)]
    plain = run_apart([sys.executable, __file__, "--open-plain", str(size), storage])
    return {**plain, **run_apart(command)}


def run_apart(command):
    """The figures a process of this script prints last (JSON)."""
    result = subprocess.run(
        command, cwd=ROOT, env=site_env(BENCH_VAR), capture_output=True, text=True
    )
    if result.returncode:
        sys.exit(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def header(site):
    text = (
        f"{'size':>9} {'storage':<10}{'build s':>8}{'disk MiB':>9}{'open s':>7}{'plain':>6}"
        f"{'store p50':>10}{'+city':>6}{'recall':>7}{'+city':>6}{'store RSS':>10}{'anon/file':>10}"
    )
    text += f"{'embed p50':>10}"
    return text + (f"{'start s':>8}{'api p50':>8}{'+city':>6}{'web RSS':>8}" if site else "")


def row(size, storage, f, site):
    text = (
        f"{size:>9,} {storage:<10}{f['load_s'] + f['optimize_s']:>8.0f}{f['disk_mib']:>9.0f}"
        f"{f['open_s']:>7.2f}{f['open_plain_s']:>6.1f}{f['p50_all']:>10.1f}{f['p50_city']:>6.1f}{f['recall_all']:>7.3f}"
        f"{f['recall_city']:>6.3f}{f['rss_mib']:>10.0f}"
        + f"{f['anon_mib']:.0f}/{f['file_mib']:.0f}".rjust(10)
        + f"{f['embed_p50']:>10.1f}"
    )
    if site:
        text += (
            f"{f['start_s']:>8.1f}{f['api_all']:>8.1f}{f['api_city']:>6.1f}{f['web_rss_mib']:>8.0f}"
        )
    return text


if __name__ == "__main__":
    main()
