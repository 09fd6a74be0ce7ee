"""Can the import's work beside the model hide behind it? Timed on this machine, in one process.

    .venv/bin/python bench/embed_overlap.py            # 3,000 synthetic companies, 3 rounds
    .venv/bin/python bench/embed_overlap.py 6000 --rounds 4

The import embeds a batch of companies, then computes their BM25 terms, builds and writes the
points and records them (docs/performance.md). Running that work in a thread while the model
embeds the next batch would hide it only if the model left a core idle. Timed here, in
alternating order, the best of each over the rounds:
- "model": the batches' sentences embedded as the import embeds them (``embed_documents``);
- "beside": work beside the model, stood for by the batches' BM25 terms computed ``--beside``
  times over (pure Python, as the import's other work is);
- "in turn": model then beside, batch after batch, as the import runs;
- "overlapped": each batch's beside work in a thread while the next batch embeds;
- the model alone over every sentence (sorted by tokens), as one ONNX session with two threads
  (the site's) against two sessions of one thread each, one per half of the sentences in two
  threads: whether the model's two threads keep both cores busy.
"overlap hides" is (model + beside - overlapped) / beside: 1 if the thread hid the work beside
entirely, 0 if the two cost what they cost apart. ("in turn" against model + beside shows the
machine's noise between runs of the same work.)
"""

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BATCH = 256  # companies per batch, as the import's default INDEX_BATCH_SIZE


def setup_django():
    workdir = tempfile.mkdtemp(prefix="embed-overlap-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "searchsite.settings")
    os.environ.update(
        DEBUG="1",
        VAR_DIR=workdir,
        DATABASE_URL=f"sqlite:///{workdir}/db.sqlite3",
        EMBEDDING_MODEL_DIR=str(ROOT / "var" / "models" / "all-MiniLM-L6-v2"),
    )
    import django

    django.setup()


def timed(function, *args):
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("count", type=int, nargs="?", default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--beside",
        type=int,
        default=16,
        help="times the BM25 terms are computed per batch (the work beside the model; enough "
        "to stand out of the machine's noise)",
    )
    args = parser.parse_args()
    setup_django()
    from bench.data import generate
    from companies.importing import clean_row
    from companies.models import Company
    from companies.search import embedding, keywords
    from companies.search.embedding import _load_model, model_name, token_counts
    from companies.search.indexing import document_sentences, document_text

    companies = [Company(**clean_row(i, record)) for i, record in enumerate(generate(args.count))]
    batches = [companies[i : i + BATCH] for i in range(0, len(companies), BATCH)]
    sentences = [[s for c in batch for s in document_sentences(c)] for batch in batches]
    texts = [[document_text(c) for c in batch] for batch in batches]
    # Sorted by tokens, as the import's batches are (the least padding), for the sessions' runs.
    every_sentence = [s for batch in sentences for s in batch]
    tokens = dict(zip(every_sentence, token_counts(embedding.get_model(), every_sentence)))
    every_sentence.sort(key=tokens.__getitem__)
    folder = os.environ["EMBEDDING_MODEL_DIR"]
    single = [_load_model(model_name(), folder, 1) for _ in range(2)]
    for model in (embedding.get_model(), *single):
        list(model.embed(every_sentence[:64]))

    def model_only():
        for batch in sentences:
            embedding.embed_documents(batch)

    def beside(number):
        for _ in range(args.beside):
            list(keywords.document_vectors(texts[number]))

    def beside_only():
        for number in range(len(batches)):
            beside(number)

    def in_turn():
        for number, batch in enumerate(sentences):
            embedding.embed_documents(batch)
            beside(number)

    def overlapped():
        with ThreadPoolExecutor(1) as pool:
            pending = None
            for number, batch in enumerate(sentences):
                embedding.embed_documents(batch)
                if pending:
                    pending.result()
                pending = pool.submit(beside, number)
            pending.result()

    def two_sessions():
        halves = [every_sentence[0::2], every_sentence[1::2]]
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda pair: list(pair[0].embed(pair[1])), zip(single, halves)))

    def one_session():
        list(embedding.get_model().embed(every_sentence))

    steps = {
        "model": model_only,
        "beside": beside_only,
        "in turn": in_turn,
        "overlapped": overlapped,
        "model, 1 session x 2 threads": one_session,
        "model, 2 sessions x 1 thread": two_sessions,
    }
    best = dict.fromkeys(steps, float("inf"))
    order = list(steps)
    for round_number in range(args.rounds):
        for name in order if round_number % 2 == 0 else order[::-1]:
            best[name] = min(best[name], timed(steps[name]))
        print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
    print(f"{args.count:,} companies ({len(every_sentence):,} sentences), best of {args.rounds}:")
    print("| step | seconds |\n| --- | --- |")
    for name, seconds in best.items():
        print(f"| {name} | {seconds:.2f} |")
    hidden = (best["model"] + best["beside"] - best["overlapped"]) / best["beside"]
    print(f"overlap hides {hidden:.2f} of the work beside the model")
    print(
        "rerun: .venv/bin/python bench/embed_overlap.py "
        f"{args.count} --rounds {args.rounds} --beside {args.beside}"
    )


if __name__ == "__main__":
    main()
