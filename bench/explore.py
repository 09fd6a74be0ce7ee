"""The map at scale: the layout build, /api/map/ (size and server time) and placing one company.

    .venv/bin/python bench/explore.py                 # 50,000 companies, SQLite
    .venv/bin/python bench/explore.py 10000           # a quicker look
    .venv/bin/python bench/explore.py --database-url postgres://postgres@127.0.0.1:5432/ss_bench

Companies are bench/data.py's synthetic ones, written to a throwaway database; their points go
to a throwaway embedded store with deterministic synthetic vectors instead of embeddings (50,000
embeddings take hours on a laptop CPU, and the layout only reads vectors): each is its sector's
direction plus its main product's and users' directions plus noise, so companies of a sector
cluster and, within it, those making the same thing sit closer. Everything else is the site's
own code: ``build_landscape`` (vectors read from the store, layout, cluster names, database
writes, the map's encoding), the ``/api/map/`` view through Django's test client (server time:
the whole request; a process's first request, as just started, then an unchanged map, then the
first request after new companies were placed, and how long until the new map is served), and
``place_points`` for a new company, inside a transaction as indexing calls it.
"""

import argparse
import gzip
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import ensure_database, site_env  # noqa: E402
from bench.data import SECTORS, generate  # noqa: E402

DIMENSION = 384
SEED = 5


def set_up_django(workdir, database_url):
    # Requests go through the test client (host "testserver"), over plain HTTP.
    env = site_env(
        workdir,
        QDRANT_PATH=str(Path(workdir) / "qdrant"),
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="0",
    )
    if database_url:
        ensure_database(database_url)
        env["DATABASE_URL"] = database_url
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if database_url:
        from companies.models import Company

        Company.objects.all().delete()


def parts(row):
    """``(sector, things, users)`` of a synthetic company, read back from its tags and words:
    the directions its vector is made of (``things`` and ``users``: at most one each)."""
    sector = next(s for s in SECTORS if any(t in row["alt"] for t in SECTORS[s]["tags"]))
    words = row["description"].lower()
    things = [t for t in SECTORS[sector]["things"] if t in words][:1]
    users = [u for u in SECTORS[sector]["users"] if u in words][:1]
    return sector, things, users


class Vectors:
    """Deterministic vectors of synthetic companies: sector + product + users + noise."""

    def __init__(self):
        self.rng = np.random.default_rng(SEED)
        self.directions = {}

    def direction(self, key, scale):
        if key not in self.directions:
            self.directions[key] = self.rng.normal(size=DIMENSION) * scale
        return self.directions[key]

    def of(self, row):
        sector, things, users = parts(row)
        vector = self.direction(sector, 1.0) + self.rng.normal(size=DIMENSION) * 0.55
        for key in things + users:
            vector = vector + self.direction(key, 0.6)
        return (vector / np.linalg.norm(vector)).tolist()


def fill(count):
    """``count`` companies in the database and their points in the store."""
    from companies.importing import clean_row
    from companies.models import Company, IndexStatus, name_key, text_key
    from companies.search.engines import get_store
    from companies.search.indexing import recipe_metadata
    from companies.search.store import IndexPoint

    store = get_store()
    store.ensure_index({**recipe_metadata(), "dimension": DIMENSION})
    vectors = Vectors()
    rows = list(generate(count, seed=SEED))
    started = time.perf_counter()
    for start in range(0, count, 2000):
        batch = []
        for number, row in enumerate(rows[start : start + 2000], start=start):
            fields = clean_row(number, row)
            company = Company(**fields, slug=f"company-{number}")
            company.normalize()
            company.indexed_hash = hashlib.sha256(str(number).encode()).hexdigest()
            company.index_status = IndexStatus.INDEXED
            batch.append(company)
        saved = Company.objects.bulk_create(batch)
        store.upsert([point(c, vectors.of(row)) for c, row in zip(saved, rows[start:])])
        print(f"  filled {start + len(batch)}/{count}", file=sys.stderr)
    store.optimize()
    print(f"Filled {count} companies in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    return vectors, IndexPoint, name_key, text_key


def point(company, vector):
    from companies.models import name_key, text_key
    from companies.search.store import IndexPoint

    return IndexPoint(
        id=company.pk,
        dense=vector,
        sentences=[vector],
        sparse=([1], [1.0]),
        payload={
            "city": text_key(company.city),
            "city_name": company.city,
            "name_key": name_key(company.name),
            "hash": company.indexed_hash,
            "terms": [1],
        },
    )


def bench_build():
    from companies.search.landscape import build_landscape

    stages = []
    started = time.perf_counter()

    def progress(stage):
        stages.append((stage, time.perf_counter() - started))
        print(f"  {stage} ({stages[-1][1]:.1f}s)", file=sys.stderr)

    report = build_landscape(progress=progress)
    return report, stages


def bench_api(repeats, *, new_process=False):
    """Server times of ``repeats`` requests for the whole map, and the last answer's sizes.
    ``new_process``: this process's copy is dropped first, as in a process just started, which
    takes the stored encoding."""
    from django.test import Client

    from companies.search import map_snapshot

    client = Client()
    if new_process:
        map_snapshot._copy = map_snapshot._Copy()
        client.get("/api/map/", {"city": "Nowhere"})  # the site's own first-request costs
    times, response = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get("/api/map/", HTTP_ACCEPT_ENCODING="gzip")
        times.append((time.perf_counter() - started) * 1000)
    assert response.status_code == 200 and response["Content-Encoding"] == "gzip"
    raw = gzip.decompress(response.content)
    assert len(json.loads(raw)["points"]) >= 1
    return times, len(response.content), len(raw)


def bench_after_change():
    """After the map changed: the first request's server time (it serves the map of before and
    starts encoding the new one), and how long until the new one is served."""
    from companies.search import map_snapshot

    (first_ms,), _, _ = bench_api(1)
    started = time.perf_counter()
    map_snapshot.wait_for_refresh()
    current = map_snapshot.fingerprint()
    assert map_snapshot._copy.encoded.fingerprint == current, "the encoding did not catch up"
    caught_up_ms = first_ms + (time.perf_counter() - started) * 1000
    return first_ms, caught_up_ms, map_snapshot._copy.encoded.seconds * 1000


def bench_placement(vectors, repeats):
    """Place new companies one at a time, as indexing does after writing each one's point."""
    from django.db import transaction

    from bench.data import generate as more
    from companies.importing import clean_row
    from companies.models import Company, MapPoint
    from companies.search.engines import get_store
    from companies.search.landscape import place_points

    store = get_store()
    times = []
    for number, row in enumerate(more(repeats, seed=SEED + 1)):
        company = Company(**clean_row(number, row), slug=f"new-{number}")
        company.normalize()
        company.indexed_hash = hashlib.sha256(f"new {number}".encode()).hexdigest()
        company.save()
        new = point(company, vectors.of(row))
        store.upsert([new])
        started = time.perf_counter()
        with transaction.atomic():
            place_points([new])
        times.append((time.perf_counter() - started) * 1000)
        assert MapPoint.objects.filter(company=company).exists()
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("count", type=int, nargs="?", default=50_000)
    parser.add_argument("--database-url", help="a PostgreSQL database (emptied) instead of SQLite")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-explore-") as workdir:
        set_up_django(workdir, args.database_url)
        vectors, *_ = fill(args.count)
        report, stages = bench_build()
        api_ms, gzipped, raw = bench_api(args.repeats, new_process=True)
        place_ms = bench_placement(vectors, args.repeats)
        first_ms, caught_up_ms, encoding_ms = bench_after_change()
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"\nThe map at {args.count:,} companies ({database}, embedded Qdrant Edge store)")
    print(f"  layout build:        {report.seconds:.1f} s  ({report.summary()})")
    ends = [at for _, at in stages[1:]] + [report.seconds]
    for (stage, at), end in zip(stages, ends):
        print(f"    {end - at:6.1f} s  {stage}")
    print(
        f"  /api/map/:           {gzipped / 1e6:.2f} MB gzipped ({raw / 1e6:.2f} MB JSON); "
        f"server time: unchanged map median {statistics.median(api_ms[1:]):.0f} ms "
        f"(max {max(api_ms[1:]):.0f} ms, {len(api_ms) - 1} requests); a process's first "
        f"request (the stored encoding) {api_ms[0]:.0f} ms"
    )
    print(
        f"  after {len(place_ms)} placements: first request (the map of before) "
        f"{first_ms:.0f} ms; the new map served {caught_up_ms:.0f} ms after it "
        f"(encoding it in the background: {encoding_ms:.0f} ms)"
    )
    print(
        f"  place one company:   median {statistics.median(place_ms):.1f} ms, "
        f"max {max(place_ms):.1f} ms over {len(place_ms)} companies"
    )
    rerun = " ".join(["python bench/explore.py", str(args.count)])
    if args.database_url:
        rerun += f" --database-url {args.database_url}"
    print(f"\nRerun: .venv/bin/{rerun}")


if __name__ == "__main__":
    main()
