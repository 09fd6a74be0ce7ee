"""Sync lag: from a company's save to its point in the index, through Redis and a Celery worker.

    .venv/bin/python bench/sync_lag.py                 # 200 saves, 10 per second
    .venv/bin/python bench/sync_lag.py --saves 200 --rate 50

A real `celery worker` process (solo pool, the embedded store is its own) consumes from Redis
(``BENCH_REDIS_URL``, default redis://127.0.0.1:6379/11, flushed first); this process saves
companies in PostgreSQL (``BENCH_DATABASE_URL``, default a database ``startup_search_bench`` on
127.0.0.1, created if missing) at a steady rate, each with new text to embed. The lag of a save is
the worker's ``indexed_at`` (written right after the point is upserted, so from then on it is
found) minus the moment ``save()`` returned. At the end the worker is stopped and every saved
company is looked up in the index by its own text. Also prints the worker's RSS after warm-up.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, ensure_database, percentiles, rss_mib, site_env  # noqa: E402

PRODUCTS = ["drones", "payroll software", "meal kits", "tutoring apps"]

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/startup_search_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--saves", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0, help="saves per second")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="sync-lag-"))
    ensure_database(DATABASE_URL)
    env = site_env(
        workdir, DATABASE_URL=DATABASE_URL, CELERY_BROKER_URL=REDIS_URL, EMBEDDING_THREADS="1"
    )
    os.environ.update(env)
    import django

    django.setup()
    import redis
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from companies.models import Company

    Company.objects.all().delete()
    redis.Redis.from_url(REDIS_URL).flushdb()

    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "searchsite",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        warm = Company.objects.create(
            name="Warm Up",
            link="https://warm.example",
            description="Warming the worker's model and store.",
        )
        _wait(lambda: Company.objects.filter(pk=warm.pk, index_status="indexed").exists(), 120)
        worker_rss = rss_mib(worker.pid)

        saved = {}
        interval = 1 / args.rate
        started = time.monotonic()
        for i in range(args.saves):
            time.sleep(max(0.0, started + i * interval - time.monotonic()))
            company = Company.objects.create(
                name=f"Lag Test {i}",
                link=f"https://lag{i}.example",
                city="Chicago",
                description=f"Company {i} builds {PRODUCTS[i % 4]} for customers in sector {i}.",
            )
            saved[company.pk] = time.time()
        _wait(
            lambda: (
                Company.objects.filter(pk__in=saved, index_status="indexed").count() == len(saved)
            ),
            300,
        )
        indexed = dict(Company.objects.filter(pk__in=saved).values_list("pk", "indexed_at"))
        lags = [(indexed[pk].astimezone(UTC).timestamp() - saved[pk]) * 1000 for pk in saved]
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)

    from companies.search.query import search_companies

    found = sum(
        1
        for company in Company.objects.filter(pk__in=saved)
        if company.pk
        in [
            hit.company.pk
            for hit in search_companies(company.description, mode="keyword", limit=3).hits
        ]
    )
    stats = percentiles(lags)
    print(
        f"{args.saves} saves at {args.rate:g}/s through Redis and one Celery worker "
        f"(solo pool, PostgreSQL, embedded store), {os.cpu_count()} cores"
    )
    print(
        f"save -> indexed lag: p50 {stats['p50']:.0f} ms, p95 {stats['p95']:.0f} ms, "
        f"p99 {stats['p99']:.0f} ms, max {max(lags):.0f} ms  (goal p95 <= 2000 ms)"
    )
    print(f"found afterwards by their own text: {found}/{len(saved)}")
    print(f"worker RSS after warm-up: {worker_rss:.0f} MiB")
    print(f"Rerun: .venv/bin/python bench/sync_lag.py --saves {args.saves} --rate {args.rate:g}")


def _wait(condition, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            sys.exit("timed out waiting for the worker")
        time.sleep(0.05)


if __name__ == "__main__":
    main()
