"""The map's own layout against umap-learn and openTSNE: time, memory, and what each keeps.

    .venv/bin/python bench/layout_methods.py                  # 50,000 companies, ours only
    /tmp/layouts-venv/bin/python bench/layout_methods.py 10000
    /tmp/layouts-venv/bin/python bench/layout_methods.py 50000 --methods ours,umap,opentsne

The site's venv has neither umap-learn nor openTSNE (they are not dependencies; umap-learn brings
numba, llvmlite, pynndescent, scikit-learn and scipy): a method whose package is missing is
skipped with a message. To compare, use a venv of its own (this script needs only numpy and
Pillow besides them; the site's ``layout.py`` is pure numpy):

    python3.11 -m venv /tmp/layouts-venv
    /tmp/layouts-venv/bin/pip install numpy pillow umap-learn openTSNE

The vectors are bench/explore.py's deterministic synthetic ones (sector + product + users
directions + noise), so each company's sector and product are known. Methods:

- ``ours``: ``companies.search.layout.compute``, as ``build_landscape`` calls it.
- ``umap``: the same PCA to 50 dimensions, then umap-learn (n_neighbors 15, min_dist 0.1,
  default epochs) with a fixed random_state, as a map that must not move between builds needs;
  umap-learn then runs single-threaded.
- ``umap-parallel``: the same without random_state (all cores, a different map each build).
- ``opentsne``: the same PCA, then openTSNE with its defaults, n_jobs=2 and a fixed seed.

Each runs in a process of its own, so its time includes what a fresh build process pays (numba
compiles umap-learn's functions on first use, or loads them from its on-disk cache) and its peak
RSS is its own (the vectors, about 80 MB at 50,000, are in it). Figures, on a sample of
``--sample`` companies: kNN kept (of its 10 nearest by cosine in 384 dimensions, the share among
its 10 nearest on the plane), sector and product agreement (of its 10 nearest on the plane, the
share in its sector; in its sector with its product), each beside the same share in 384
dimensions, and the rank correlation of distances over random pairs (the plane's global order).
Pictures under test-artifacts/layouts/: every company coloured by sector, and one sector alone,
coloured by product (structure inside a sector).
"""

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import DEMO  # noqa: E402
from bench.data import SECTORS, generate  # noqa: E402
from bench.explore import SEED, Vectors, parts, set_up_django  # noqa: E402

METHODS = {"ours": None, "umap": "umap", "umap-parallel": "umap", "opentsne": "openTSNE"}
NEIGHBOURS = 10
PCA = 50
ZOOMED = "travel"
OUT = ROOT / "test-artifacts" / "layouts"
# Twenty colours told apart (Tableau 20), by sector or product.
PALETTE = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#79706e", "#17becf", "#bcbd22", "#1f3b73", "#8c2d04", "#2ca02c", "#7b2b7f",
    "#d62728", "#006d6f", "#ffbf00", "#555555",
]  # fmt: skip


def companies(count):
    """``(vectors, sectors, products)``: unit vectors (float32) and, per company, its sector's
    number and its product's (sector number x 100 + product's, -1 without one)."""
    maker = Vectors()
    names = list(SECTORS)
    vectors = np.empty((count, 384), dtype=np.float32)
    sectors = np.empty(count, dtype=np.int64)
    products = np.empty(count, dtype=np.int64)
    for number, row in enumerate(generate(count, seed=SEED)):
        vectors[number] = maker.of(row)
        sector, things, _ = parts(row)
        sectors[number] = names.index(sector)
        thing = SECTORS[sector]["things"].index(things[0]) if things else -1
        products[number] = sectors[number] * 100 + thing if things else -1
    return vectors, sectors, products


def export_demo(path):
    """The demo companies' whole-company vectors, as the map reads them from the store, and the
    site's clusters of them, saved to ``path`` (.npz). Needs the site's venv (Django, the model)."""
    with tempfile.TemporaryDirectory(prefix="bench-layouts-demo-") as workdir:
        set_up_django(workdir, None)
        from companies.importing import import_companies
        from companies.search import layout
        from companies.search.engines import close_store, get_store
        from companies.search.indexing import index_companies

        index_companies(import_companies(DEMO.read_bytes()).company_ids)
        vectors = np.array([v for _, _, v in get_store().company_vectors()], dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        close_store()
    np.savez(path, vectors=vectors, clusters=layout.compute(vectors)[1])
    print(f"{len(vectors)} demo companies' vectors in {path}")


def lay_out(method, vectors):
    """2D positions of ``vectors`` by ``method``, and the seconds a warm-up took (umap-learn's
    first fit compiles; the warm-up is a fit of 5,000 companies, enough to use its approximate
    neighbour search as the full fit does)."""
    from companies.search import layout

    if method == "ours":
        return layout.compute(vectors)[0], 0.0
    reduced = layout.reduce_dimensions(vectors, PCA)
    if method.startswith("umap"):
        import umap

        def fit(points):
            seed = {} if method == "umap-parallel" else {"random_state": SEED}
            return umap.UMAP(n_neighbors=15, min_dist=0.1, **seed).fit_transform(points)

        started = time.perf_counter()
        fit(reduced[np.random.default_rng(SEED).permutation(len(reduced))[:5000]])
        warm_up = time.perf_counter() - started
        return fit(reduced), warm_up
    from openTSNE import TSNE

    return np.asarray(TSNE(n_jobs=2, random_state=SEED).fit(reduced)), 0.0


def child(method, vectors_path, xy_path):
    """Run in a process of its own: one layout, its figures printed as JSON."""
    import warnings

    warnings.filterwarnings("ignore")  # umap-learn's notes on random_state and n_jobs
    vectors = np.load(vectors_path)
    before = _rss_mb()
    started = time.perf_counter()
    xy, warm_up = lay_out(method, vectors)
    seconds = time.perf_counter() - started - warm_up
    np.save(xy_path, np.asarray(xy, dtype=np.float64))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "warm_up": warm_up, "peak_mb": peak, "base_mb": before}))


def _rss_mb():
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20


def run(method, vectors_path, workdir):
    xy_path = Path(workdir) / f"{method}.npy"
    command = [sys.executable, __file__, "--child", method, str(vectors_path), str(xy_path)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{method} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1]), np.load(xy_path)


def nearest(queries, points, k, *, cosine):
    """Indices of each query's ``k`` nearest among ``points`` (queries: indices, themselves
    left out), by cosine (unit vectors) or by Euclidean distance."""
    result = np.empty((len(queries), k), dtype=np.int64)
    squared = (points**2).sum(axis=1)
    for start in range(0, len(queries), 250):
        chunk = queries[start : start + 250]
        if cosine:
            distances = -(points[chunk] @ points.T)
        else:
            distances = squared - 2 * points[chunk] @ points.T
        distances[np.arange(len(chunk)), chunk] = np.inf
        near = np.argpartition(distances, k, axis=1)[:, :k]
        result[start : start + 250] = near
    return result


def agreement(queries, neighbours, labels):
    """Share of neighbours with the query's label (queries without one left out)."""
    own = labels[queries]
    kept = own >= 0
    return float((labels[neighbours[kept]] == own[kept, None]).mean())


def rank_correlation(vectors, xy, rng, pairs=20_000):
    """Spearman's rho between cosine distances and plane distances over random pairs."""
    a, b = rng.integers(len(xy), size=(2, pairs))
    high = 1 - (vectors[a] * vectors[b]).sum(axis=1)
    low = np.sqrt(((xy[a] - xy[b]) ** 2).sum(axis=1))
    return float(np.corrcoef(high.argsort().argsort(), low.argsort().argsort())[0, 1])


def quality(vectors, xy, sectors, products, sample):
    """The figures of one layout (``products`` None: no product figure)."""
    rng = np.random.default_rng(SEED)
    queries = rng.choice(len(xy), size=min(sample, len(xy)), replace=False)
    high = nearest(queries, vectors, NEIGHBOURS, cosine=True)
    # float64 and centred: float32 loses the digits of squared distances near 1,000.
    low = nearest(queries, xy - xy.mean(axis=0), NEIGHBOURS, cosine=False)
    kept = np.mean([len(np.intersect1d(h, lo)) / NEIGHBOURS for h, lo in zip(high, low)])
    figures = {
        "knn": float(kept),
        "sector": agreement(queries, low, sectors),
        "sector_384": agreement(queries, high, sectors),
        "rho": rank_correlation(vectors, xy, rng),
    }
    if products is not None:
        figures["product"] = agreement(queries, low, products)
        figures["product_384"] = agreement(queries, high, products)
    return figures


def render(path, xy, labels, title, size=900, margin=24):
    """A PNG of the points, coloured by label (drawn in random order, so none is always on
    top): 3x3 pixels each below 5,000 points, 2x2 below 20,000, 1 pixel above."""
    from PIL import Image, ImageDraw

    from companies.search.layout import fitting

    pixels = (fitting(xy)(xy) / 1000 * (size - 2 * margin) + margin).astype(int)
    colours = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in PALETTE], np.uint8)
    image = np.full((size, size, 3), 255, dtype=np.uint8)
    order = np.random.default_rng(SEED).permutation(len(xy))
    dot = 3 if len(xy) < 5000 else 2 if len(xy) < 20_000 else 1
    for dx in range(dot):
        for dy in range(dot):
            y = np.clip(size - pixels[order, 1] - dy, 0, size - 1)
            x = np.clip(pixels[order, 0] + dx, 0, size - 1)
            image[y, x] = colours[labels[order] % len(colours)]
    picture = Image.fromarray(image)
    ImageDraw.Draw(picture).text((8, 6), title, fill=(20, 30, 48))
    picture.save(path)


def pictures(method, xy, sectors, products, name):
    """``{method}-{name}.png``, and with products, one sector alone coloured by product."""
    OUT.mkdir(parents=True, exist_ok=True)
    base = f"{method}-{name.replace(' ', '-').replace(',', '')}"
    colours = "sector" if products is not None else "the site's cluster"
    render(OUT / f"{base}.png", xy, sectors, f"{method}, {name}, by {colours}")
    if products is not None:
        zoomed = sectors == list(SECTORS).index(ZOOMED)
        render(
            OUT / f"{base}-{ZOOMED.replace(' ', '-')}.png",
            xy[zoomed],
            products[zoomed] % 100,
            f"{method}, {name}: {ZOOMED} alone, by product (grey: none)",
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("count", type=int, nargs="?", default=50_000)
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated")
    parser.add_argument("--sample", type=int, default=2000, help="companies the figures use")
    parser.add_argument(
        "--export-demo", metavar="NPZ", help="save the demo's real vectors (the site's venv)"
    )
    parser.add_argument(
        "--vectors",
        metavar="NPZ",
        help="lay out --export-demo's vectors instead (no sectors: "
        "the 'sector' figure is then agreement with the site's own clusters)",
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    if args.export_demo:
        return export_demo(args.export_demo)
    methods = []
    for method in args.methods.split(","):
        package = METHODS[method]
        if package and importlib.util.find_spec(package) is None:
            print(f"Skipped {method}: {package} is not installed here (see --help)")
        else:
            methods.append(method)
    if args.vectors:
        saved = np.load(args.vectors)
        vectors, sectors, products = saved["vectors"], saved["clusters"], None
        name = f"demo {len(vectors)}"
    else:
        started = time.perf_counter()
        vectors, sectors, products = companies(args.count)
        name = f"{args.count:,} companies"
        print(f"{name} (synthetic) in {time.perf_counter() - started:.0f} s")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-layouts-") as workdir:
        vectors_path = Path(workdir) / "vectors.npy"
        np.save(vectors_path, vectors)
        for method in methods:
            timing, xy = run(method, vectors_path, workdir)
            figures = quality(vectors, xy, sectors, products, args.sample)
            pictures(method, xy, sectors, products, name)
            rows.append((method, timing, figures))
            print(f"  {method}: {timing['seconds']:.1f} s", file=sys.stderr)
    report(rows, name, min(args.sample, len(vectors)))
    rerun = f"bench/layout_methods.py {args.count} --methods {args.methods}"
    if args.vectors:
        rerun = f"bench/layout_methods.py --vectors {args.vectors} --methods {args.methods}"
    print(f"\nPictures: {OUT.relative_to(ROOT)}/")
    print(f"Rerun: {sys.executable} {rerun}")


def report(rows, name, sample):
    """The table, and beneath it the same shares among the 10 nearest in 384 dimensions."""
    print(f"\nLayouts of {name} (figures on {sample:,} of them)")
    print("| method | seconds | warm-up s | peak RSS MB | kNN kept | sector | product | rho |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for method, timing, figures in rows:
        cells = [
            f"{timing['seconds']:.1f}",
            f"{timing['warm_up']:.1f}",
            f"{timing['peak_mb']:.0f} ({timing['base_mb']:.0f} before)",
            f"{figures['knn']:.2f}",
            f"{figures['sector']:.3f}",
            f"{figures['product']:.2f}" if "product" in figures else "",
            f"{figures['rho']:.2f}",
        ]
        print(f"| {method} | " + " | ".join(cells) + " |")
    if rows:
        figures = rows[0][2]
        product = f"{figures['product_384']:.2f}" if "product" in figures else ""
        print(f"| (384 dimensions) | | | | 1 | {figures['sector_384']:.3f} | {product} | 1 |")


if __name__ == "__main__":
    main()
