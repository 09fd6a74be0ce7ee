"""Indexing throughput: `import_companies` against raw fastembed on the same texts, one run.

    .venv/bin/python bench/indexing.py            # 10,000 synthetic companies
    .venv/bin/python bench/indexing.py 2000       # a quicker look

Both sides run in fresh processes, one after the other, on the same synthetic data
(bench/data.py): "raw" is `TextEmbedding.embed` over exactly the texts the site embeds (each
company's sentences, the site's model batch size), nothing else, timed three times: in their
order, all of them sorted by characters, and all of them sorted by tokens (the least padding
possible; the site sorts each batch by tokens), the fastest counting as raw; "site" is the
whole import command in a throwaway database and store: validation, database writes,
embedding, BM25, Qdrant Edge upserts, index-state updates, and the steps after the rows
(query vocabulary, optimize, map layout), which it also prints apart.
Peak RSS is each process's own high-water mark; "padding" is the tokens the model computes
(each batch padded to its longest text) per token the texts hold.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RAW = """
import json, sys, time
sys.path.insert(0, {root!r})
import os
os.environ["DJANGO_SETTINGS_MODULE"] = "searchsite.settings"
import django
django.setup()
from companies.importing import clean_row
from companies.models import Company
from companies.search.conf import search_setting
from companies.search.embedding import token_counts, get_model
from companies.search.indexing import document_sentences

rows = [json.loads(line) for line in open({data!r})]
texts = [s for i, row in enumerate(rows)
         for s in document_sentences(Company(**clean_row(i, row)))]
model = get_model()
list(model.embed(texts[:64]))  # warm-up, as the site's model is warm after its first batch
result = {{"texts": len(texts)}}
# In the given order, and all texts sorted by length: in characters, and in tokens (the least
# padding any batching can have; counting them is not timed).
tokens = dict(zip(texts, token_counts(model, texts)))
orders = (
    ("plain", texts),
    ("sorted", sorted(texts, key=len)),
    ("tokens", sorted(texts, key=tokens.__getitem__)),
)
size = search_setting("EMBED_BATCH_SIZE")
for label, ordered in orders:
    if label not in {orders_wanted!r}:
        continue
    # Tokens the model computes (each batch padded to its longest) per token the texts hold.
    padded = sum(
        len(ordered[i : i + size]) * max(tokens[t] for t in ordered[i : i + size])
        for i in range(0, len(ordered), size)
    )
    result["padding " + label] = padded / sum(tokens[t] for t in ordered)
    started = time.perf_counter()
    for _ in model.embed(ordered, batch_size=size):
        pass
    result[label] = time.perf_counter() - started
print(json.dumps(result))
"""

# The raw orders timed: as given, sorted by characters, sorted by tokens.
RAW_ORDERS = ("plain", "sorted", "tokens")


def peak_rss_mib(command, env, cwd=ROOT):
    """Run ``command`` and return (stdout, wall seconds, peak RSS MiB) of that process alone."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=err, cwd=cwd)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status):
            sys.exit(f"{' '.join(command[:3])} failed:\n{err.read()[-3000:]}")
        return out.read(), elapsed, usage.ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("count", type=int, nargs="?", default=10_000)
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="alternate raw and site this many times; the best of each counts",
    )
    parser.add_argument(
        "--raw",
        nargs="+",
        choices=RAW_ORDERS,
        default=list(RAW_ORDERS),
        help="the raw orders to time (tokens is the best; the others show what sorting gains)",
    )
    args = parser.parse_args()
    from bench.data import generate

    workdir = Path(tempfile.mkdtemp(prefix="indexing-bench-"))
    data = workdir / "companies.jsonl"
    with open(data, "w") as f:
        for record in generate(args.count):
            f.write(json.dumps(record) + "\n")
    env = {
        **os.environ,
        "DEBUG": "1",
        "VAR_DIR": str(workdir),
        "DATABASE_URL": f"sqlite:///{workdir}/db.sqlite3",
        "EMBEDDING_MODEL_DIR": str(ROOT / "var" / "models" / "all-MiniLM-L6-v2"),
    }
    for name in ("QDRANT_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    python = sys.executable

    raw, raw_rss, site_seconds, site_rss = None, 0, None, 0
    for round_number in range(args.rounds):
        # Alternating, so a busy moment on the machine does not favour one side.
        raw_out, _, rss = peak_rss_mib(
            [python, "-c", RAW.format(root=str(ROOT), data=str(data), orders_wanted=args.raw)], env
        )
        result = json.loads(raw_out.strip().splitlines()[-1])
        result["seconds"] = min(result[label] for label in args.raw)
        if raw is None or result["seconds"] < raw["seconds"]:
            raw = result
        raw_rss = max(raw_rss, rss)
        round_env = {
            **env,
            "VAR_DIR": str(workdir / f"round-{round_number}"),
            "DATABASE_URL": f"sqlite:///{workdir}/round-{round_number}.sqlite3",
        }
        peak_rss_mib([python, "manage.py", "migrate", "-v0"], round_env)
        site_out, seconds, rss = peak_rss_mib(
            [python, "manage.py", "import_companies", str(data)], round_env
        )
        site_seconds = seconds if site_seconds is None else min(site_seconds, seconds)
        site_rss = max(site_rss, rss)

    raw_rate = args.count / raw["seconds"]
    site_rate = args.count / site_seconds
    print(
        f"{args.count:,} synthetic companies, {raw['texts']:,} texts embedded "
        f"({raw['texts'] / args.count:.1f} per company), {os.cpu_count()} cores"
    )
    print(f"{'':<36}{'companies/s':>12}{'seconds':>10}{'peak RSS MiB':>14}{'padding':>9}")
    for label in args.raw:
        seconds = raw[label]
        print(
            f"{'raw TextEmbedding.embed, ' + label:<36}{args.count / seconds:>12.1f}"
            f"{seconds:>10.1f}{raw_rss:>14.0f}{raw['padding ' + label]:>9.2f}"
        )
    print(
        f"{'site: import_companies (whole cmd)':<36}{site_rate:>12.1f}{site_seconds:>10.1f}"
        f"{site_rss:>14.0f}"
    )
    print(f"site / best raw throughput: {site_rate / raw_rate:.3f}  (goal >= 0.85)")
    print(site_out.strip().splitlines()[-1])
    steps = _steps_after_rows(site_out)
    if steps:
        print(
            "of which, once every row is written and indexed: "
            + ", ".join(f"{label} {seconds:.1f}s" for label, seconds in steps.items())
        )
        ready = site_seconds - steps.get("map layout", 0)
        print(
            f"search-ready (the whole command less the map layout): {args.count / ready:.1f} "
            f"companies/s, {ready:.1f}s; / best raw: {raw['seconds'] / ready:.3f}"
        )
    print(f"best of {args.rounds} alternating rounds each")
    print(
        f"Rerun: .venv/bin/python bench/indexing.py {args.count} --rounds {args.rounds} "
        f"--raw {' '.join(args.raw)}"
    )


# The import's own report of the steps that follow its rows (import_companies.py).
STEP_LINES = {
    "query vocabulary": r"^Query vocabulary: .* in ([0-9.]+)s",
    "optimize": r"optimized in ([0-9.]+)s",
    "map layout": r"^Map: .* in ([0-9.]+)s",
}


def _steps_after_rows(output):
    """``{step: seconds}`` read from the import command's output (the last round's)."""
    steps = {}
    for label, pattern in STEP_LINES.items():
        if found := re.search(pattern, output, re.MULTILINE):
            steps[label] = float(found.group(1))
    return steps


if __name__ == "__main__":
    main()
