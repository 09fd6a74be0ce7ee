"""Would a reranker over the site's first candidates reach the match-set goal?

    python bench/rerank_trial.py                    # quality and latency
    python bench/rerank_trial.py --latency-only     # latency only (no database, no index)
    python bench/rerank_trial.py --model-dir DIR    # also a cross-encoder folder, see below

The goal (bench/quality.py --calibrate): a median match set of at most 15 companies holding at
least 97% of the judged-relevant ones, which no cut of the present hybrid ranking reaches. This
takes the site's hybrid ranking (the candidates above any score, as in ``--calibrate``), reorders
its first 30/50/100 by a reranker's score, and prints nDCG@10 on the judged queries and their
one-typo copies, and the match sets a cut on the reranker's scores would give.

Rerankers tried, each only when it is there (else a line says why it is skipped):
- a cross-encoder: a folder holding ``model.onnx`` (inputs input_ids, attention_mask and maybe
  token_type_ids; output one logit per pair) and ``tokenizer.json``, given by ``--model-dir``
  or shipped by a package in ``CROSS_ENCODER_PACKAGES``. No PyPI package ships one (searched
  2026-12: FlashRank and fastembed download theirs at run time, the rest need torch or hold no
  weights), so the list is empty and weights from elsewhere may not be used by the site.
- ``nanoranker`` (PyPI, MIT, weights inside the wheel): not a cross-encoder but a small network
  over the query's and the company's Universal Sentence Encoder vectors.
- MaxSim (late interaction) over the token vectors of the site's own model: no new weights.

Latency needs no weights: graphs with random weights shaped like common cross-encoders (built
with the site's own ``bert_onnx_graph``) time reranking 30/50/100 pairs with 1 and 2 threads.
"""

import argparse
import statistics
import sys
import tempfile
import time
from importlib import resources, util
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.quality import QUERIES, TYPO_QUERIES, load, ndcg, setup_django  # noqa: E402

DEPTHS = (30, 50, 100)
# (package, folder inside it) of packages shipping a cross-encoder: none known on PyPI.
CROSS_ENCODER_PACKAGES = ()
# Shapes of known cross-encoders: layers, hidden size, heads, feed-forward size.
SHAPES = {
    "TinyBERT-L-2 shape (ms-marco-TinyBERT-L-2-v2)": (2, 128, 2, 512),
    "MiniLM-L-6 shape (ms-marco-MiniLM-L-6-v2)": (6, 384, 12, 1536),
}
# Twelve layers (ms-marco-MiniLM-L-12-v2) cost about twice MiniLM-L-6, BERT-base (bge-reranker-
# base) about eight times: too slow to time here by the dozen.
TIMED_QUERIES = 10


def session(model, threads, custom_ops=False):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if custom_ops:
        from onnxruntime_extensions import get_library_path

        options.register_custom_ops_library(get_library_path())
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class CrossEncoder:
    """Scores (query, text) pairs in one batch; the score is the pair's first output value."""

    def __init__(self, model, tokenizer_file, threads=1):
        from tokenizers import Tokenizer

        self.session = session(model, threads)
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.enable_truncation(512)
        self.tokenizer.enable_padding()

    def scores(self, query, texts):
        import numpy as np

        encoded = self.tokenizer.encode_batch([(query, text) for text in texts])
        feed = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
        out = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]
        return out.reshape(len(texts), -1)[:, 0]


class Nanoranker:
    """nanoranker's two ONNX files, run with a chosen thread count. Company vectors do not
    depend on the query, so they are cached (an index would store them)."""

    def __init__(self, threads=1):
        import nanoranker

        folder = resources.files("nanoranker").joinpath("resources")
        self.encoder = session(
            str(folder.joinpath("universal-sentence-encoder-multilingual.onnx")), threads, True
        )
        self.head = session(str(folder.joinpath("reranker_nn_v2.onnx")), threads)
        self.textual = nanoranker.textual_embed
        self.cache = {}

    def vector(self, text):
        import numpy as np

        semantic = self.encoder.run(["outputs"], {"inputs": [text]})[0][0]
        return np.concatenate([semantic, self.textual(text)])

    def scores(self, query, texts, cached=True):
        import numpy as np

        q = self.vector(query)
        docs = []
        for text in texts:
            if not cached or text not in self.cache:
                self.cache[text] = self.vector(text)
            docs.append(self.cache[text])
        pairs = np.concatenate([np.tile(q, (len(docs), 1)), np.array(docs)], axis=1)
        return self.head.run(["output"], {"input": pairs.astype(np.float32)})[0].reshape(-1)


class MaxSim:
    """Late interaction (ColBERT's MaxSim) over the site's own all-MiniLM-L6-v2 token vectors:
    no new weights, but the model was not trained for it. Company vectors are cached."""

    def __init__(self, threads=1, folder=None):
        from tokenizers import Tokenizer

        from companies.search.model_files import ensure_model_files

        if folder is None:
            from companies.search.conf import search_setting

            folder = search_setting("MODEL_DIR")
        folder = ensure_model_files(folder)
        self.session = session(str(folder / "model.onnx"), threads)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(256)
        self.cache = {}

    def tokens(self, text):
        import numpy as np

        e = self.tokenizer.encode(text)
        feed = {
            name: np.array([values], dtype=np.int64)
            for name, values in (("input_ids", e.ids), ("token_type_ids", e.type_ids))
        }
        feed["attention_mask"] = np.ones_like(feed["input_ids"])
        vectors = self.session.run(None, feed)[0][0][1:-1]  # without [CLS] and [SEP]
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def scores(self, query, texts):
        import numpy as np

        q = self.tokens(query)
        out = []
        for text in texts:
            if text not in self.cache:
                self.cache[text] = self.tokens(text)
            out.append(float((q @ self.cache[text].T).max(axis=1).mean()))
        return np.array(out)


def find_cross_encoder(model_dir):
    if model_dir:
        return Path(model_dir)
    for package, folder in CROSS_ENCODER_PACKAGES:
        if util.find_spec(package):
            return Path(str(resources.files(package).joinpath(folder)))
    return None


def rerankers(model_dir, threads=1):
    found = {}
    folder = find_cross_encoder(model_dir)
    if folder:
        found["cross-encoder"] = CrossEncoder(folder / "model.onnx", folder / "tokenizer.json")
    else:
        print("cross-encoder: skipped, none installed (no PyPI package ships one; --model-dir)")
    if util.find_spec("nanoranker") and util.find_spec("onnxruntime_extensions"):
        found["nanoranker"] = Nanoranker(threads)
    else:
        print("nanoranker: skipped, not installed (pip install nanoranker==1.2)")
    found["MaxSim, site's model"] = MaxSim(threads)
    return found


# Quality ------------------------------------------------------------------------------------


def candidates(judged):
    """Per query: (query as understood, [(name, text)] best first), all candidates kept."""
    from companies.search import ranking
    from companies.search.query import MAX_LIMIT, search_companies

    saved = ranking.MATCH_MARGIN, ranking.MIN_SCORE
    ranking.MATCH_MARGIN, ranking.MIN_SCORE = float("inf"), -1.0
    try:
        found = []
        for item in judged:
            results = search_companies(item["query"], limit=MAX_LIMIT)
            query = results.understood.query if results.understood else item["query"]
            hits = [
                (h.company.name, f"{h.company.name}. {h.company.description}") for h in results.hits
            ]
            found.append((query, hits))
        return found
    finally:
        ranking.MATCH_MARGIN, ranking.MIN_SCORE = saved


def reranked(reranker, query, hits, depth):
    """The names in the reranked order and the reranker's scores of the first ``depth``."""
    head = hits[:depth]
    scores = reranker.scores(query, [text for _, text in head]) if head else []
    order = sorted(range(len(head)), key=lambda i: -scores[i])
    names = [head[i][0] for i in order] + [name for name, _ in hits[depth:]]
    return names, [float(scores[i]) for i in order]


def quality(label, reranker, sets):
    for title, (judged, found) in sets.items():
        wanted = [[n for n, g in item["relevant"].items() if g > 0] for item in judged]
        total = sum(map(len, wanted))
        site = [
            ndcg([n for n, _ in hits], item["relevant"]) for item, (_, hits) in zip(judged, found)
        ]
        print(
            f"\n{label}, {title} ({len(judged)} queries): site nDCG@10 {statistics.mean(site):.3f}"
        )
        for depth in DEPTHS:
            runs = [reranked(reranker, q, hits, depth) for q, hits in found]
            score = statistics.mean(
                ndcg(names, item["relevant"]) for item, (names, _) in zip(judged, runs)
            )
            inside = sum(
                n in {h for h, _ in hits[:depth]} for w, (_, hits) in zip(wanted, found) for n in w
            )
            print(
                f"  rerank first {depth:>3}: nDCG@10 {score:.3f}; judged-relevant among those "
                f"candidates {inside}/{total} = {inside / total:.1%}"
            )
            if title == "clean":
                match_sets(runs, wanted, total, depth)


def match_sets(runs, wanted, total, depth):
    """Cuts on the reranker's scores of the first ``depth``: below the best, and absolute."""
    import math

    spread = [s[0] - s[-1] for _, s in runs if s]
    unit = statistics.median(spread) or 1.0
    print(f"    cut (median spread of the scores {unit:.3g}): median count | relevant kept")
    cuts = [("margin", f * unit) for f in (0.1, 0.2, 0.3, 0.4, 0.5)]
    if any(s and (s[0] > 1 or s[-1] < 0) for _, s in runs):  # logits: a sigmoid threshold too
        cuts += [("sigmoid >=", p) for p in (0.01, 0.05, 0.1, 0.3, 0.5)]
    else:  # scores in [0, 1]: a threshold on the score itself
        cuts += [("score >=", p) for p in (0.05, 0.1, 0.2, 0.3, 0.5)]
    for kind, value in cuts:
        counts, kept = [], 0
        for (names, scores), w in zip(runs, wanted):
            if kind == "margin":
                inside = [s >= scores[0] - value for s in scores] if scores else []
            elif kind == "score >=":
                inside = [s >= value for s in scores]
            else:
                inside = [1 / (1 + math.exp(-s)) >= value for s in scores]
            chosen = {n for n, ok in zip(names, inside) if ok}
            counts.append(len(chosen))
            kept += sum(n in chosen for n in w)
        median = statistics.median(counts)
        print(f"    {kind} {value:8.3g}: {median:>5} | {kept}/{total} = {kept / total:.1%}")
    for size in (10, 15, 20):
        kept = sum(n in names[:size] for (names, _), w in zip(runs, wanted) for n in w)
        print(f"    first {size} reranked: {kept}/{total} = {kept / total:.1%}")
    perfect = [
        max((names.index(n) for n in w if n in names), default=0) + 1
        for (names, _), w in zip(runs, wanted)
    ]
    print(f"    a perfect cut per query: median count {statistics.median(perfect)}")


# Latency ------------------------------------------------------------------------------------


def standin(folder, layers, hidden, heads, feed_forward, vocab=30522):
    """A BERT cross-encoder graph of that shape with random weights, saved under ``folder``."""
    import json

    import numpy as np
    import onnx
    from safetensors.numpy import save_file

    from companies.search.model_files import bert_onnx_graph

    rng = np.random.default_rng(0)

    def w(*shape):
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    weights = {
        "embeddings.word_embeddings.weight": w(vocab, hidden),
        "embeddings.position_embeddings.weight": w(512, hidden),
        "embeddings.token_type_embeddings.weight": w(2, hidden),
    }
    norms = ["embeddings.LayerNorm"]
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for name, shape in [
            *[(f"attention.self.{k}", (hidden, hidden)) for k in ("query", "key", "value")],
            ("attention.output.dense", (hidden, hidden)),
            ("intermediate.dense", (feed_forward, hidden)),
            ("output.dense", (hidden, feed_forward)),
        ]:
            weights[f"{p}{name}.weight"], weights[f"{p}{name}.bias"] = w(*shape), w(shape[0])
        norms += [f"{p}attention.output.LayerNorm", f"{p}output.LayerNorm"]
    for name in norms:
        weights[f"{name}.weight"] = np.ones(hidden, np.float32)
        weights[f"{name}.bias"] = np.zeros(hidden, np.float32)
    save_file(weights, str(folder / "model.safetensors"))
    config = {"hidden_size": hidden, "num_attention_heads": heads, "num_hidden_layers": layers}
    (folder / "config.json").write_text(json.dumps({**config, "layer_norm_eps": 1e-12}))
    onnx.save(bert_onnx_graph(folder), str(folder / "model.onnx"))
    return folder / "model.onnx"


def texts_for_timing():
    """The judged queries and, per query, 100 company texts of the demo data."""
    import json

    root = Path(__file__).resolve().parent.parent
    rows = [json.loads(line) for line in (root / "data" / "startups_demo.jsonl").open()]
    texts = [f"{r['name']}. {r['description']}" for r in rows]
    queries = [item["query"] for item in load(QUERIES)][:TIMED_QUERIES]
    return [
        (q, texts[i * 7 % len(texts) :] + texts[: i * 7 % len(texts)])
        for i, q in enumerate(queries)
    ]


def timed(scorer, work, prime=False):
    """Median wall and CPU ms per query to score the first 30/50/100 texts, after a warm-up.

    CPU time (all threads of the process) is what the work costs when the machine is shared;
    with one thread it is close to the wall time on an idle machine."""
    for query, texts in work if prime else work[:1]:  # prime: fill a cache of company vectors
        scorer(query, texts[: max(DEPTHS) if prime else 10])
    cells = []
    for depth in DEPTHS:
        wall, cpu = [], []
        for query, texts in work:
            started, used = time.perf_counter(), time.process_time()
            scorer(query, texts[:depth])
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - used) * 1000)
        cells.append(f"{statistics.median(wall):7.0f}/{statistics.median(cpu):<7.0f}")
    return " ".join(cells)


def latency(model_dir):
    from companies.search.model_files import source_folder

    tokenizer = source_folder() / "tokenizer.json"
    work = texts_for_timing()
    depths = " ".join(f"{d:>7}/cpu   " for d in DEPTHS)
    print(f"\nLatency: median wall/CPU ms per query over {len(work)} queries, pairs: {depths}")
    with tempfile.TemporaryDirectory(prefix="rerank-standin-") as tmp:
        for label, shape in SHAPES.items():
            folder = Path(tmp) / str(len(label))
            folder.mkdir()
            model = standin(folder, *shape)
            for threads in (1, 2):
                encoder = CrossEncoder(model, tokenizer, threads)
                print(f"  {label}, {threads} thread(s): {timed(encoder.scores, work)}")
        for threads in (1, 2):
            ranker = MaxSim(threads, Path(tmp) / "all-MiniLM-L6-v2")
            stored = timed(ranker.scores, work, prime=True)
            print(f"  MaxSim, site's model, company vectors stored, {threads} thread(s): {stored}")
    folder = find_cross_encoder(model_dir)
    for threads in (1, 2) if folder else ():
        encoder = CrossEncoder(folder / "model.onnx", folder / "tokenizer.json", threads)
        print(f"  cross-encoder {folder}, {threads} thread(s): {timed(encoder.scores, work)}")
    for threads in (1, 2) if util.find_spec("nanoranker") else ():
        ranker = Nanoranker(threads)
        stored = timed(ranker.scores, work, prime=True)
        print(f"  nanoranker, company vectors stored, {threads} thread(s): {stored}")
        both = timed(lambda q, t, r=ranker: r.scores(q, t, cached=False), work)
        print(f"  nanoranker, every vector computed, {threads} thread(s): {both}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", help="a cross-encoder folder: model.onnx, tokenizer.json")
    parser.add_argument("--latency-only", action="store_true")
    args = parser.parse_args()
    if not args.latency_only:
        setup_django()
        found = rerankers(args.model_dir)
        if found:
            sets = {}
            for title, path in (("clean", QUERIES), ("one typo", TYPO_QUERIES)):
                judged = load(path)
                sets[title] = (judged, candidates(judged))
            for label, reranker in found.items():
                quality(label, reranker, sets)
    latency(args.model_dir)
    print(
        "\nRerun: python bench/rerank_trial.py  (in a venv with requirements.txt + nanoranker==1.2)"
    )


if __name__ == "__main__":
    main()
