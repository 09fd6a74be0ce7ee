"""Search quality on the demo data: nDCG@10, recall@10 and MRR per mode, next to baselines.

    .venv/bin/python bench/quality.py              # the table
    .venv/bin/python bench/quality.py --per-query  # and each query's nDCG@10 per mode
    .venv/bin/python bench/quality.py --sweep      # hybrid fusion parameters, for tuning

Runs in a throwaway database and store (nothing under var/ is touched): imports
data/startups_demo.jsonl, indexes it, then runs bench/queries.jsonl (graded 0/1/2 by hand)
through the search service. Then the query understanding sets:

- ``bench/queries_typo.jsonl``: each judged query with one word misspelt (same grades);
- ``bench/queries_names.jsonl``: company names with one typo (is the company first?);
- ``bench/queries_places.jsonl``: queries naming a city (are all results in it, the best
  first?) and names holding a city that must not be read as a place;
- match-set statistics of the judged queries: the median ``count`` and the share of the
  judged-relevant companies inside the match set (every page of it).
 Baselines on the same data: Django ``icontains`` on name, description
and tags (whole query, ordered by name, as a plain site search does), plain BM25 (Okapi, no
stemming, no stopwords, over name + description) and plain dense (all-MiniLM-L6-v2 cosine over
name + description).
"""

import argparse
import json
import math
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
QUERIES = BENCH / "queries.jsonl"
TYPO_QUERIES = BENCH / "queries_typo.jsonl"
NAME_QUERIES = BENCH / "queries_names.jsonl"
PLACE_QUERIES = BENCH / "queries_places.jsonl"
K = 10


def setup_django():
    workdir = tempfile.mkdtemp(prefix="quality-bench-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "searchsite.settings")
    os.environ["DEBUG"] = "1"
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir}/db.sqlite3"
    os.environ["QDRANT_PATH"] = f"{workdir}/qdrant"
    for name in ("QDRANT_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command(
        "import_companies",
        str(ROOT / "data" / "startups_demo.jsonl"),
        verbosity=0,
        stdout=open(os.devnull, "w"),  # noqa: SIM115
    )


# Metrics --------------------------------------------------------------------------------------


def ndcg(ranked, grades, k=K):
    dcg = sum(
        (2 ** grades.get(name, 0) - 1) / math.log2(i + 2) for i, name in enumerate(ranked[:k])
    )
    ideal = sorted(grades.values(), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall(ranked, grades, k=K):
    relevant = {name for name, g in grades.items() if g > 0}
    return len(relevant & set(ranked[:k])) / len(relevant)


def reciprocal_rank(ranked, grades):
    for i, name in enumerate(ranked):
        if grades.get(name, 0) > 0:
            return 1 / (i + 1)
    return 0.0


# Baselines ------------------------------------------------------------------------------------


def icontains_ranking(query):
    from django.db.models import Q

    from companies.models import Company

    found = Company.objects.filter(
        Q(name__icontains=query) | Q(description__icontains=query) | Q(tags__icontains=query)
    ).order_by("name")
    return list(found.values_list("name", flat=True)[:K])


class PlainBM25:
    """Okapi BM25 (k1=1.2, b=0.75) on lower-cased word tokens of name + description."""

    def __init__(self, companies):
        self.names = [c.name for c in companies]
        self.docs = [Counter(self.tokens(f"{c.name} {c.description}")) for c in companies]
        self.lengths = [sum(d.values()) for d in self.docs]
        self.average = sum(self.lengths) / len(self.lengths)
        frequency = Counter(term for d in self.docs for term in d)
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in frequency.items()}

    @staticmethod
    def tokens(text):
        return re.findall(r"\w+", text.lower())

    def ranking(self, query):
        terms = set(self.tokens(query))
        scores = []
        for name, doc, length in zip(self.names, self.docs, self.lengths):
            score = sum(
                self.idf[t] * doc[t] * 2.2 / (doc[t] + 1.2 * (0.25 + 0.75 * length / self.average))
                for t in terms
                if t in doc
            )
            if score > 0:
                scores.append((-score, name))
        return [name for _, name in sorted(scores)[:K]]


class PlainDense:
    """all-MiniLM-L6-v2 cosine between the query and name + description."""

    def __init__(self, companies):
        import numpy as np

        from companies.search import embedding

        self.np = np
        self.names = [c.name for c in companies]
        self.matrix = np.array(
            embedding.embed_documents([f"{c.name}. {c.description}" for c in companies])
        )

    def ranking(self, query):
        from companies.search import embedding

        scores = self.matrix @ self.np.array(embedding.embed_query(query))
        return [self.names[i] for i in self.np.argsort(-scores)[:K]]


# Running --------------------------------------------------------------------------------------


def service_ranking(mode):
    from companies.search.query import search_companies

    def ranking(query):
        """The first page as shown: the matches, then any looser ones shown apart."""
        results = search_companies(query, mode=mode, limit=K)
        return [hit.company.name for hit in results.hits + results.related]

    return ranking


def evaluate(rankers, judged):
    table, per_query = {}, {}
    for label, ranker in rankers.items():
        rows, started = [], time.perf_counter()
        for item in judged:
            ranked = ranker(item["query"])
            rows.append(
                (
                    ndcg(ranked, item["relevant"]),
                    recall(ranked, item["relevant"]),
                    reciprocal_rank(ranked, item["relevant"]),
                )
            )
            per_query.setdefault(item["query"], {})[label] = rows[-1][0]
        elapsed = (time.perf_counter() - started) / len(judged) * 1000
        table[label] = [sum(col) / len(col) for col in zip(*rows)] + [elapsed]
    return table, per_query


def print_table(table, title):
    print(f"\n{title}")
    print(f"{'ranking':<28}{'nDCG@10':>9}{'recall@10':>11}{'MRR':>8}{'ms/query':>10}")
    for label, (n, r, m, ms) in table.items():
        print(f"{label:<28}{n:>9.3f}{r:>11.3f}{m:>8.3f}{ms:>10.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-query", action="store_true")
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument(
        "--calibrate", action="store_true", help="the match margin: count vs relevant kept"
    )
    args = parser.parse_args()
    judged = load(QUERIES)
    setup_django()
    from companies.models import Company

    companies = list(Company.objects.all())
    print(
        f"{len(judged)} judged queries over {len(companies)} companies "
        f"({Counter(item.get('kind', '?') for item in judged)})"
    )
    rankers = {
        "baseline: Django icontains": icontains_ranking,
        "baseline: plain BM25": PlainBM25(companies).ranking,
        "baseline: plain dense": PlainDense(companies).ranking,
        "mode=keyword": service_ranking("keyword"),
        "mode=semantic": service_ranking("semantic"),
        "mode=hybrid (default)": service_ranking("hybrid"),
    }
    table, per_query = evaluate(rankers, judged)
    print_table(table, "Mean over the judged queries (ms/query includes the page's database load)")
    if args.per_query:
        labels = list(rankers)
        print("\n" + " | ".join(label.split(":")[-1].strip()[:10] for label in labels) + " | query")
        for query, scores in per_query.items():
            print(" | ".join(f"{scores[label]:10.2f}" for label in labels) + f" | {query}")
    understanding(judged)
    if args.calibrate:
        calibrate(judged)
    if args.sweep:
        sweep(judged)
    print("\nRerun: .venv/bin/python bench/quality.py")


def load(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def understanding(judged):
    """Typos, misspelt names, places and match sets (the query understanding goals)."""
    typo = load(TYPO_QUERIES)
    modes = {f"mode={mode}": service_ranking(mode) for mode in ("keyword", "semantic", "hybrid")}
    table, _ = evaluate(modes, typo)
    print_table(table, f"One misspelt word per query ({len(typo)} queries, grades as above)")

    names = load(NAME_QUERIES)
    hybrid = service_ranking("hybrid")
    first = [hybrid(item["query"])[:1] == list(item["relevant"]) for item in names]
    missed = [item["query"] for item, ok in zip(names, first) if not ok]
    print(
        f"\nMisspelt company names found first (hybrid): {sum(first)}/{len(names)} "
        f"= {sum(first) / len(names):.0%}" + (f"; missed: {missed}" if missed else "")
    )

    place_report(load(PLACE_QUERIES))
    match_sets(judged)
    match_sets(judged, mode="keyword", lost_too=False)


def place_report(places):
    from companies.models import text_key
    from companies.search.query import search_companies

    in_city = best_first = 0
    print(f"\nPlace queries ({len(places)}, hybrid): all results in the city | best first | query")
    for item in places:
        results = search_companies(item["query"], limit=K)
        names = [hit.company.name for hit in results.hits]
        city = item["city"]
        # The city, or a spelling of it the data holds ("also"): every result must be in one.
        spellings = {text_key(name) for name in [city, *item.get("also", [])]}
        inside = not city or all(text_key(hit.company.city) in spellings for hit in results.hits)
        best = max(item["relevant"].values(), default=0)
        top = not best or item["relevant"].get(names[0] if names else None, 0) == best
        in_city += inside
        best_first += top
        print(
            f"  {'yes' if inside else 'NO ':>3} | {'yes' if top else 'NO ':>3} | "
            f"{item['query']} -> {names[:3]}"
        )
    print(
        f"  all results in the named city: {in_city}/{len(places)}; "
        f"the best first: {best_first}/{len(places)}"
    )


def match_sets(judged, mode="hybrid", lost_too=True):
    """The whole match set of each judged query: its size and the relevant inside."""
    import statistics

    from companies.search.query import MAX_LIMIT, search_companies

    counts, relevant, inside, lost = [], 0, 0, []
    for item in judged:
        results = search_companies(item["query"], mode=mode, limit=MAX_LIMIT)
        matched = [hit.company.name for hit in results.hits]
        while len(matched) < results.count:
            more = search_companies(
                item["query"], mode=mode, limit=MAX_LIMIT, offset=len(matched)
            ).hits
            if not more:
                break
            matched += [hit.company.name for hit in more]
        counts.append(results.count)
        wanted = [name for name, grade in item["relevant"].items() if grade > 0]
        relevant += len(wanted)
        inside += sum(name in matched for name in wanted)
        lost += [f"{item['query']}: {name}" for name in wanted if name not in matched]
    print(
        f"\nMatch sets of the {len(judged)} judged queries ({mode}): median count "
        f"{statistics.median(counts)}, mean {statistics.mean(counts):.1f}, max {max(counts)}; "
        f"judged-relevant inside: {inside}/{relevant} = {inside / relevant:.1%}"
    )
    for line in lost if lost_too else ():
        print(f"  outside: {line}")


def calibrate(judged):
    """How the match set would change with each margin below the best score (hybrid), next to
    two yardsticks: a fixed number of the best ranked, and a cut made per query by someone who
    knows the judgements (the best any cut of this ranking could do)."""
    import statistics

    from companies.models import name_key
    from companies.search import ranking
    from companies.search.query import MAX_LIMIT, search_companies

    gaps = []  # per query: (gap of every match, gaps of the judged-relevant companies)
    ranks = []  # per query: the ranks of the judged-relevant companies among the candidates
    original = ranking.MATCH_MARGIN
    ranking.MATCH_MARGIN = float("inf")
    try:
        for item in judged:
            hits = search_companies(item["query"], limit=MAX_LIMIT).hits
            plain = [h.score for h in hits if name_key(h.company.name) != name_key(item["query"])]
            best = max(plain, default=0)
            gap = {h.company.name: 0 if h.score > best else best - h.score for h in hits}
            rank = {h.company.name: i for i, h in enumerate(hits)}
            wanted = [name for name, grade in item["relevant"].items() if grade > 0]
            gaps.append((list(gap.values()), [gap.get(name) for name in wanted]))
            ranks.append([rank.get(name) for name in wanted])
    finally:
        ranking.MATCH_MARGIN = original
    total = sum(len(wanted) for _, wanted in gaps)
    print(f"\nMatch margin (hybrid; now {original}): median count | relevant kept")
    for margin in (0.1, 0.15, 0.2, 0.22, 0.25, 0.28, 0.3, 0.32, 0.35, 0.4, float("inf")):
        counts = [sum(g <= margin for g in every) for every, _ in gaps]
        kept = sum(g is not None and g <= margin for _, wanted in gaps for g in wanted)
        print(
            f"  {margin:>5}: {statistics.median(counts):>6} | {kept}/{total} = {kept / total:.1%}"
        )
    print("The first N ranked, whatever their score: N | relevant kept")
    for size in (5, 10, 15, 20, 30, 50):
        kept = sum(r is not None and r < size for wanted in ranks for r in wanted)
        print(f"  {size:>5}: {kept}/{total} = {kept / total:.1%}")
    # A perfect cut per query keeps its relevant candidates down to the last one.
    perfect = [max((r for r in wanted if r is not None), default=0) + 1 for wanted in ranks]
    found = sum(r is not None for wanted in ranks for r in wanted)
    print(
        f"A perfect cut per query: median count {statistics.median(perfect)}, relevant kept "
        f"{found}/{total} = {found / total:.1%} (those among the candidates at all)"
    )


def sweep(judged):
    from companies.search import ranking
    from companies.search.plan import Fusion

    variants = {"rrf": Fusion("rrf"), "dbsf": Fusion("dbsf")}
    for sentences in (0.7, 0.8, 0.9):
        for weight in (0.1, 0.15, 0.2, 0.3):
            for saturation in (4.0, 8.0, 12.0):
                variants[f"s={sentences} w={weight} c={saturation}"] = Fusion(
                    "formula", sentences, weight, saturation
                )
    results = {}
    original = ranking.FUSION
    try:
        for label, fusion in variants.items():
            ranking.FUSION = fusion
            results[label] = evaluate({label: service_ranking("hybrid")}, judged)[0][label]
    finally:
        ranking.FUSION = original
    print_table(results, "Hybrid fusion sweep")


if __name__ == "__main__":
    main()
