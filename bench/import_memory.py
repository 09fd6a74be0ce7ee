"""Peak memory of `import_companies` on a big JSON lines file: it streams, so it stays flat.

    .venv/bin/python bench/import_memory.py                     # 1,000,000 synthetic rows
    .venv/bin/python bench/import_memory.py 200000 --baseline /tmp/old

Writes N synthetic startups (bench/data.py) to var/bench/import-N.jsonl once, then runs the
command with --no-index on a fresh SQLite database in a process of its own and reports its
peak RSS (the kernel's high-water mark), rows per second and the database's row count. The
database side only: embedding a million real rows takes hours on a small machine, and the
index is written a chunk at a time, as the database is (its memory is the store's, measured
by the store's own benchmarks). --baseline runs an older checkout's command on the same file.
"""

import argparse
import json
import os
import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH_VAR, ROOT  # noqa: E402
from bench.indexing import peak_rss_mib  # noqa: E402


def data_file(count):
    path = BENCH_VAR / f"import-{count}.jsonl"
    if not path.exists():
        from bench.data import generate

        BENCH_VAR.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        with open(partial, "w") as f:
            for record in generate(count):
                f.write(json.dumps(record) + "\n")
        partial.rename(path)
    return path


def run(root, data, label):
    with tempfile.TemporaryDirectory(prefix="import-memory-") as workdir:
        return run_in(Path(workdir), root, data, label)


def run_in(workdir, root, data, label):
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "benchmark-only-not-secret",
        "VAR_DIR": str(workdir),
        "DATABASE_URL": f"sqlite:///{workdir}/db.sqlite3",
        "LOG_LEVEL": "WARNING",
    }
    for name in ("QDRANT_URL", "CELERY_BROKER_URL", "CACHE_URL"):
        env.pop(name, None)
    python = sys.executable
    peak_rss_mib([python, str(Path(root) / "manage.py"), "migrate", "-v0"], env, cwd=root)
    out, seconds, rss = peak_rss_mib(
        [python, str(Path(root) / "manage.py"), "import_companies", str(data), "--no-index"],
        env,
        cwd=root,
    )
    with sqlite3.connect(workdir / "db.sqlite3") as db:
        rows = db.execute("SELECT COUNT(*) FROM companies_company").fetchone()[0]
    return {"label": label, "seconds": seconds, "rss": rss, "rows": rows, "out": out}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("count", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--baseline", type=Path, help="an older checkout, run on the same file")
    args = parser.parse_args()
    data = data_file(args.count)
    size_mib = data.stat().st_size / 2**20
    results = [run(ROOT, data, "streaming import_companies --no-index")]
    if args.baseline:
        results.append(run(args.baseline, data, f"baseline ({args.baseline})"))
    print(f"{args.count:,} rows, {size_mib:.0f} MiB of JSON lines, {os.cpu_count()} cores")
    print(f"{'':<44}{'peak RSS MiB':>14}{'seconds':>10}{'rows/s':>10}{'rows in db':>12}")
    for result in results:
        print(
            f"{result['label']:<44}{result['rss']:>14.0f}{result['seconds']:>10.1f}"
            f"{args.count / result['seconds']:>10.0f}{result['rows']:>12,}"
        )
    print(results[0]["out"].strip().splitlines()[-1])
    print("goal: peak RSS <= 1536 MiB at 1,000,000 rows")
    extra = f" --baseline {args.baseline}" if args.baseline else ""
    print(f"Rerun: .venv/bin/python bench/import_memory.py {args.count}{extra}")


if __name__ == "__main__":
    main()
