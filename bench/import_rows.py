"""Reading an import file: parsing a JSON array (with line numbers) and checking rows by the model.

    .venv/bin/python bench/import_rows.py            # arrays of 60 KB to 5 MB; 10,000 rows checked
    .venv/bin/python bench/import_rows.py --rows 2000

Parsing: the seconds to read a JSON array of synthetic startups (bench/data.py) into rows with
their line numbers, at growing sizes; linear work keeps the time per MB flat. Checking: rows per
second through ``clean_row`` (the data set's shape, then ``Company.clean_fields``), the validation
an import adds before its database writes and embedding (about 160 companies/s; see
docs/performance.md). No database or store is touched.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "searchsite.settings")
os.environ.setdefault("SECRET_KEY", "benchmark-only-not-secret")

import django  # noqa: E402

django.setup()

from bench.data import generate  # noqa: E402
from companies.importing import clean_row, parse_rows  # noqa: E402

SIZES_KB = (60, 240, 1024, 5120)


def array_of(rows, size_kb):
    """A pretty-printed JSON array (one field a line, as exports often are) of ``size_kb``."""
    pieces, size, n = [], 0, 0
    while size < size_kb * 1024:
        piece = json.dumps(rows[n % len(rows)], indent=2)
        pieces.append(piece)
        size += len(piece) + 2
        n += 1
    return "[\n" + ",\n".join(pieces) + "\n]\n", n


def best_of(runs, function):
    best = None
    for _ in range(runs):
        started = time.perf_counter()
        function()
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows checked by clean_row")
    args = parser.parse_args()
    rows = list(generate(args.rows))

    print("Parsing a JSON array, with line numbers")
    print(f"{'size':>8} {'elements':>9} {'seconds':>8} {'s per MB':>9}")
    for size_kb in SIZES_KB:
        text, elements = array_of(rows, size_kb)
        seconds = best_of(3, lambda text=text: parse_rows(text))
        print(
            f"{size_kb:>6}KB {elements:>9,} {seconds:>8.3f} {seconds / (len(text) / 2**20):>9.3f}"
        )

    checked = best_of(3, lambda: [clean_row(n, row) for n, row in enumerate(rows, start=1)])
    print(f"\nChecking rows: {len(rows):,} in {checked:.2f}s = {len(rows) / checked:,.0f} rows/s")
    print(f"\nRerun: .venv/bin/python bench/import_rows.py --rows {args.rows}")


if __name__ == "__main__":
    main()
