"""Spelling correction: its cost per query and per word, rapidfuzz against a SymSpell index.

    .venv/bin/python bench/spelling.py

Runs in a throwaway database (nothing under var/ is touched): imports the demo data, builds the
vocabulary, then corrects the words of bench/queries_typo.jsonl and bench/queries_names.jsonl:
- ``understanding.understand`` per query (corrections and places), as every search runs it;
- one misspelt word with the rapidfuzz scan the site uses (``spelling.correct_word``), and with
  a SymSpell-style index (every word's deletions up to the same edit distance, looked up by the
  typed word's deletions, candidates then checked by Damerau-Levenshtein), built here for the
  comparison: same candidates, so the same answers, at another cost in time and memory.
"""

import os
import statistics
import sys
import time
import tracemalloc
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.quality import NAME_QUERIES, TYPO_QUERIES, load, setup_django  # noqa: E402


def deletions(word, edits):
    found = {word}
    for n in range(1, edits + 1):
        for positions in combinations(range(len(word)), n):
            found.add("".join(ch for i, ch in enumerate(word) if i not in positions))
    return found


def symspell_index(words, max_edits):
    index = {}
    for word in words:
        for key in deletions(word, max_edits(word) or 1):
            index.setdefault(key, []).append(word)
    return index


def symspell_lookup(index, word, edits):
    from rapidfuzz.distance import DamerauLevenshtein

    near = {c for key in deletions(word, edits) for c in index.get(key, ())}
    return [c for c in near if DamerauLevenshtein.distance(word, c, score_cutoff=edits) <= edits]


def timed_ms(function, items):
    samples = []
    for item in items:
        started = time.perf_counter()
        function(item)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


def main():
    os.environ.setdefault("EMBEDDING_MODEL_DIR", str(Path("var/models/all-MiniLM-L6-v2").resolve()))
    setup_django()
    from companies.search import spelling, understanding, vocabulary

    words = vocabulary.current()
    spelling.model_words()
    queries = [item["query"] for item in load(TYPO_QUERIES) + load(NAME_QUERIES)]
    typos = [item["typo"][1].casefold() for item in load(TYPO_QUERIES) + load(NAME_QUERIES)]
    for query in queries:  # warm: candidate lists built once per vocabulary
        understanding.understand(query, mode="hybrid")

    p50, worst = timed_ms(lambda q: understanding.understand(q, mode="hybrid"), queries)
    print(f"{len(words.words):,} company words, {len(spelling.model_words()):,} model words")
    print(f"understand() per query ({len(queries)} queries): p50 {p50:.3f} ms, max {worst:.3f} ms")
    p50, worst = timed_ms(lambda w: spelling.correct_word(w, words), typos)
    print(f"rapidfuzz scan, one misspelt word: p50 {p50:.3f} ms, max {worst:.3f} ms")

    candidates = set(words.words) | set(spelling.model_words())
    tracemalloc.start()
    started = time.perf_counter()
    index = symspell_index(candidates, spelling.max_edits)
    built = time.perf_counter() - started
    memory = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    p50, worst = timed_ms(
        lambda w: symspell_lookup(index, w, spelling.max_edits(w)), [w for w in typos if w]
    )
    print(
        f"SymSpell index: built in {built:.1f} s, {memory:.0f} MiB, {len(index):,} keys; "
        f"lookup p50 {p50:.3f} ms, max {worst:.3f} ms"
    )
    print("\nRerun: .venv/bin/python bench/spelling.py")


if __name__ == "__main__":
    main()
