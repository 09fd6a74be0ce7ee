"""Reading the result rows of a search by id: the ORM as before against the compiled statement.

    .venv/bin/python bench/result_rows.py                 # 50,000 companies, 1,000 and 200 ids

A keyword search at 50,000 companies checks up to 1,000 matches against the searchable rows
(and counts them by city); a hybrid one up to 200. "before" is what the site did until then
(``searchable().only(...).in_bulk(ids)``: a compiled query and a model instance per row);
"after" is ``results.searchable_rows`` (SQL compiled once, tuples, instances only for the page).
Database only, SQLite: the site's database of bench/latency.py if prepared, else N synthetic
rows imported with --no-index. Alternating, median of each.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH_VAR, ROOT, site_env  # noqa: E402
from bench.import_memory import data_file  # noqa: E402


def database(count):
    site = BENCH_VAR / f"site-{count}"
    if (site / "db.sqlite3").exists():
        return site
    workdir = BENCH_VAR / f"rows-{count}"
    if not (workdir / "prepared").exists():
        workdir.mkdir(parents=True, exist_ok=True)
        env = site_env(workdir)
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run(manage + ["migrate", "-v0"], env=env, check=True, cwd=ROOT)
        subprocess.run(
            manage + ["import_companies", str(data_file(count)), "--no-index"],
            env=env,
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        (workdir / "prepared").write_text("ok")
    return workdir


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("count", type=int, nargs="?", default=50_000)
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    os.environ.update(site_env(database(args.count)))
    import django

    django.setup()
    from companies.models import Company
    from companies.search.results import HIT_FIELDS, searchable_rows

    def before(ids):
        return Company.objects.searchable().only(*HIT_FIELDS).in_bulk(ids)

    every = list(Company.objects.values_list("id", flat=True))
    rng = random.Random(1)
    print(f"{len(every):,} companies (SQLite), {args.rounds} rounds, {os.cpu_count()} cores")
    print(f"{'ids':>6}{'before p50 ms':>16}{'after p50 ms':>15}{'before / after':>16}")
    for size in (1000, 200):
        timings = {before: [], searchable_rows: []}
        for number in range(args.rounds + 2):
            ids = rng.sample(every, size)
            for read in (before, searchable_rows) if number % 2 else (searchable_rows, before):
                started = time.perf_counter()
                found = read(ids)
                if number >= 2:  # the first two warm up
                    timings[read].append((time.perf_counter() - started) * 1000)
            assert len(found) == len(before(ids))
        old, new = (statistics.median(timings[read]) for read in (before, searchable_rows))
        print(f"{size:>6}{old:>16.2f}{new:>15.2f}{old / new:>16.1f}")
    print(f"Rerun: .venv/bin/python bench/result_rows.py {args.count} --rounds {args.rounds}")


if __name__ == "__main__":
    main()
