"""Laying out company vectors on a plane, grouped into clusters: the arithmetic of the map.

Pure numpy, no database or store: ``landscape.py`` feeds it vectors and stores what it returns.
The method (chosen over UMAP and openTSNE for its time at 50,000 companies and for needing no
compiled dependencies; figures in docs/performance.md):

1. PCA to ``PCA_DIMENSIONS`` dimensions (the covariance's eigenvectors: one 384x384 problem).
2. k-means into clusters (k-means++ start, a fixed seed, so a rerun gives the same map).
3. The cluster centres laid out by their distances (classical MDS, then stress majorisation),
   and pushed apart until discs sized by their membership no longer overlap.
4. Each company placed in its cluster's disc by its own two main directions of variation inside
   the cluster, and drawn towards the second-nearest cluster as much as it is torn between them.
5. Its nearest neighbours (exact, in the reduced space) then decide: a company joins the cluster
   most of them are in, and the plane is refined as UMAP refines its own: every company is drawn
   towards its neighbours and pushed from random others (``refine``), starting from the layout
   of steps 3-4, so companies that do the same thing sit together, across a cluster's edge too.

Coordinates fit in ``[0, SCALE]`` on both axes.
"""

import numpy as np

SCALE = 1000.0
PCA_DIMENSIONS = 50
MAX_CLUSTERS = 40
KMEANS_ITERATIONS = 30
SEED = 16
NEIGHBOURS = 10
REFINE_EPOCHS = 150
NEGATIVE_SAMPLES = 2
ANCHOR = 0.02
KNN_CHUNK = 1000
# Columns sampled to bound each row's nearest (``_smallest``), and how many times ``k`` the
# columns under the bound may be per row before a plain selection is cheaper.
KNN_SAMPLE = 1024
KNN_SURVIVORS = 50
SEARCHED_CLUSTERS = 4


def cluster_count(n):
    """About 0.6·sqrt(n) clusters: 10 for the 259 demo companies, at most ``MAX_CLUSTERS``."""
    return int(min(MAX_CLUSTERS, max(2, round(0.6 * np.sqrt(n))), n))


def reduce_dimensions(vectors, dimensions=PCA_DIMENSIONS):
    """``vectors`` centred and projected on their main ``dimensions`` directions."""
    centred = vectors - vectors.mean(axis=0)
    _, eigenvectors = np.linalg.eigh(centred.T @ centred)
    return centred @ eigenvectors[:, ::-1][:, : min(dimensions, vectors.shape[1])]


def kmeans(points, k, rng, iterations=KMEANS_ITERATIONS):
    """``(labels, centres)``: Lloyd's k-means from a k-means++ start; empty clusters dropped."""
    centres = _kmeans_plus_plus(points, k, rng)
    squared = (points**2).sum(axis=1)
    for _ in range(iterations):
        labels = _nearest(points, squared, centres).argmin(axis=1)
        sums = np.zeros_like(centres)
        np.add.at(sums, labels, points)
        counts = np.bincount(labels, minlength=len(centres))
        moved = sums[counts > 0] / counts[counts > 0, None]
        if len(moved) == len(centres) and np.allclose(moved, centres):
            break
        centres = moved
    labels = _nearest(points, squared, centres).argmin(axis=1)
    used = np.unique(labels)
    return np.searchsorted(used, labels), centres[used]


def _kmeans_plus_plus(points, k, rng):
    sample = points[rng.choice(len(points), size=min(len(points), 20_000), replace=False)]
    centres = [sample[rng.integers(len(sample))]]
    closest = ((sample - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        total = closest.sum()
        index = (
            rng.choice(len(sample), p=closest / total) if total > 0 else rng.integers(len(sample))
        )
        centres.append(sample[index])
        closest = np.minimum(closest, ((sample - sample[index]) ** 2).sum(axis=1))
    return np.array(centres)


def _nearest(points, squared, centres):
    """Squared distances from every point to every centre (n x k)."""
    return squared[:, None] - 2 * points @ centres.T + (centres**2).sum(axis=1)[None, :]


def place_centres(centres, sizes, rng, iterations=300):
    """2D positions of the cluster centres: distances kept where possible, discs not overlapping.

    A disc's radius grows with the square root of its membership, so density looks even.
    """
    k = len(centres)
    if k == 1:
        return np.zeros((1, 2)), np.array([1.0])
    distances = np.sqrt(np.maximum(_nearest(centres, (centres**2).sum(axis=1), centres), 0))
    # Classical MDS: the top two eigenvectors of the double-centred squared distances.
    squared = distances**2
    centring = np.eye(k) - 1.0 / k
    values, vectors = np.linalg.eigh(-0.5 * centring @ squared @ centring)
    xy = vectors[:, ::-1][:, :2] * np.sqrt(np.maximum(values[::-1][:2], 1e-9))
    xy += rng.normal(scale=1e-6, size=xy.shape)
    # Stress majorisation (SMACOF, unit weights): moves the plane distances towards the real ones.
    for _ in range(iterations):
        plane = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(axis=2)) + np.eye(k)
        b = -distances / plane
        np.fill_diagonal(b, 0)
        np.fill_diagonal(b, -b.sum(axis=1))
        xy = b @ xy / k
    radii = np.sqrt(sizes / sizes.sum()) * _spread(xy) * 0.55
    return _separate(xy, radii), radii


def _spread(xy):
    return max(float(np.ptp(xy, axis=0).max()), 1e-9)


def _separate(xy, radii, iterations=400, gap=1.08):
    """Push apart discs that overlap, each by half the overlap, until none do."""
    xy = xy.copy()
    for _ in range(iterations):
        delta = xy[:, None] - xy[None]
        distance = np.sqrt((delta**2).sum(axis=2)) + np.eye(len(xy))
        overlap = np.maximum((radii[:, None] + radii[None]) * gap - distance, 0)
        np.fill_diagonal(overlap, 0)
        if not overlap.any():
            break
        xy += (delta / distance[..., None] * overlap[..., None] * 0.5).sum(axis=1)
    return xy


def place_members(points, labels, centres, centre_xy, radii):
    """Each point inside its cluster's disc, by the cluster's own two main directions, and drawn
    towards the second-nearest cluster in proportion to how torn it is between the two."""
    xy = np.zeros((len(points), 2))
    for cluster in range(len(centres)):
        members = labels == cluster
        residual = points[members] - centres[cluster]
        if len(residual) > 2:
            _, eigenvectors = np.linalg.eigh(residual.T @ residual)
            local = residual @ eigenvectors[:, ::-1][:, :2]
        else:
            local = np.zeros((len(residual), 2))
        extent = np.percentile(np.sqrt((local**2).sum(axis=1)), 95) if len(local) else 0
        local = local / extent * radii[cluster] if extent > 0 else local
        # Beyond the disc, squashed back towards its edge.
        length = np.sqrt((local**2).sum(axis=1, keepdims=True))
        too_far = length > radii[cluster]
        squashed = radii[cluster] * (1 + np.log(np.maximum(length, 1e-9) / radii[cluster]) * 0.3)
        local = np.where(too_far, local / np.maximum(length, 1e-9) * squashed, local)
        xy[members] = centre_xy[cluster] + local
    if len(centres) > 1:
        distances = _nearest(points, (points**2).sum(axis=1), centres)
        order = np.argsort(distances, axis=1)[:, :2]
        rows = np.arange(len(points))
        margin = distances[rows, order[:, 1]] - distances[rows, order[:, 0]]
        torn = np.clip(1 - margin / max(float(np.median(margin)), 1e-9), 0, 1)[:, None]
        xy += 0.3 * torn * (centre_xy[order[:, 1]] - centre_xy[order[:, 0]])
    return xy


def fitting(xy):
    """The map from layout space into ``[0, SCALE]`` on both axes (aspect kept, centred) that
    ``xy`` fits."""
    low, high = xy.min(axis=0), xy.max(axis=0)
    scale = SCALE / max(float((high - low).max()), 1e-9)
    offset = (SCALE - (high - low) * scale) / 2
    return lambda points: (points - low) * scale + offset


def compute(vectors):
    """``(xy, labels, centre_xy)`` for ``vectors`` (n x d): positions, cluster of each, and
    where each cluster's centre lies, all in map coordinates."""
    vectors = np.asarray(vectors, dtype=np.float64)
    rng = np.random.default_rng(SEED)
    if len(vectors) < 3:
        xy = np.column_stack(
            [np.linspace(0, SCALE, len(vectors)), np.full(len(vectors), SCALE / 2)]
        )
        return xy, np.zeros(len(vectors), dtype=int), xy[:1].copy() if len(xy) else xy
    reduced = reduce_dimensions(vectors)
    labels, centres = kmeans(reduced, cluster_count(len(vectors)), rng)
    neighbours = nearest_neighbours(reduced, NEIGHBOURS, labels, centres)
    labels = _vote(labels, neighbours)
    sizes = np.bincount(labels, minlength=len(centres)).astype(float)
    used = sizes > 0
    labels = np.cumsum(used)[labels] - 1
    centres = np.array([reduced[labels == c].mean(axis=0) for c in range(int(used.sum()))])
    centre_xy, radii = place_centres(centres, sizes[used], rng)
    xy = place_members(reduced, labels, centres, centre_xy, radii)
    xy = refine(xy, neighbours, rng)
    centre_xy = np.array([np.median(xy[labels == c], axis=0) for c in range(len(centres))])
    fit = fitting(xy)
    return fit(xy), labels, fit(centre_xy)


def nearest_neighbours(points, k, labels=None, centres=None):
    """The ``k`` nearest other points of each point (n x k indices). With clusters
    (``labels``, ``centres``), each point's are looked for among the members of the
    ``SEARCHED_CLUSTERS`` clusters nearest its own (near-exact, and many times faster than
    comparing every pair at 50,000 points)."""
    points = np.ascontiguousarray(points, dtype=np.float32)
    if labels is None or len(centres) <= SEARCHED_CLUSTERS:
        return _neighbours_among(points, np.arange(len(points)), np.arange(len(points)), k)
    result = np.empty((len(points), k), dtype=np.int64)
    near = np.argsort(_nearest(centres, (centres**2).sum(axis=1), centres), axis=1)
    for cluster in range(len(centres)):
        queries = np.flatnonzero(labels == cluster)
        candidates = np.flatnonzero(np.isin(labels, near[cluster, :SEARCHED_CLUSTERS]))
        result[queries] = _neighbours_among(points, queries, candidates, k)
    return result


def _neighbours_among(points, queries, candidates, k):
    """For each of ``queries`` (indices), its ``k`` nearest among ``candidates`` (indices),
    itself left out, nearest first; a chunk of queries at a time."""
    k = min(k, len(candidates) - 1)
    pool = points[candidates]
    squared = (pool**2).sum(axis=1)
    result = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), KNN_CHUNK):
        chunk = queries[start : start + KNN_CHUNK]
        distances = squared - 2 * points[chunk] @ pool.T
        distances[chunk[:, None] == candidates[None, :]] = np.inf
        result[start : start + KNN_CHUNK] = candidates[_smallest(distances, k)]
    return result


def _smallest(distances, k):
    """Per row of ``distances``, the columns of its ``k`` smallest, smallest first.

    Selecting among every column (``argpartition``) took most of the layout's neighbour search
    at scale. With many columns, the ``k``-th smallest of an evenly spaced sample of them
    bounds each row's ``k``-th smallest from above, so only the few columns under that bound
    are sorted: the same neighbours, for a comparison per column.
    """
    rows, columns = distances.shape
    if columns > 4 * KNN_SAMPLE:
        sample = distances[:, :: columns // KNN_SAMPLE]
        bound = np.partition(sample, k - 1, axis=1)[:, k - 1]
        row, column = np.nonzero(distances <= bound[:, None])
        if len(row) <= KNN_SURVIVORS * k * rows:
            order = np.lexsort((distances[row, column], row))
            first = np.searchsorted(row[order], np.arange(rows))
            return column[order][first[:, None] + np.arange(k)]
    nearest = np.argpartition(distances, k, axis=1)[:, :k]
    order = np.argsort(np.take_along_axis(distances, nearest, axis=1), axis=1)
    return np.take_along_axis(nearest, order, axis=1)


def refine(xy, neighbours, rng, epochs=REFINE_EPOCHS):
    """The plane made to keep each point's neighbours near and the rest away: UMAP's
    attraction along the neighbour edges and repulsion from random points (its curve for
    min_dist 0.1, gradients clipped at 4), all edges at once each epoch, with a falling step.
    Positions are first scaled to the span UMAP works in (about 20 units)."""
    a, b = np.float32(1.577), np.float32(0.895)
    n = len(xy)
    # In single precision: the plane needs no more, and each epoch's arithmetic over every edge
    # (most of the layout's time at scale) runs about twice as fast.
    xy = ((xy - xy.mean(axis=0)) / max(float(np.ptp(xy, axis=0).max()), 1e-9) * 20).astype(
        np.float32
    )
    start = xy.copy()
    heads = np.repeat(np.arange(n), neighbours.shape[1])
    tails = neighbours.ravel()
    sources = np.repeat(heads, NEGATIVE_SAMPLES)
    for epoch in range(epochs):
        step = np.float32(1.0 - epoch / epochs)
        delta = np.take(xy, heads, axis=0) - np.take(xy, tails, axis=0)
        d2 = _squared_lengths(delta)
        power = d2**b  # d2 ** (b - 1) is power / d2: one power per edge, not two
        attract = np.divide(-2 * a * b * power, d2 * (1 + a * power), where=d2 > 0, out=d2 * 0)
        force = np.clip(attract[:, None] * delta, -4, 4) * step
        moves = _sum_by(heads, force, n) - _sum_by(tails, force, n)
        others = rng.integers(n, size=len(sources))
        delta = np.take(xy, sources, axis=0) - np.take(xy, others, axis=0)
        d2 = _squared_lengths(delta)
        repel = (2 * b) / ((np.float32(0.001) + d2) * (1 + a * d2**b))
        repel[others == sources] = 0
        moves += _sum_by(sources, np.clip(repel[:, None] * delta, -4, 4) * step, n)
        # Per point, as many pushes as pulls on average: scaled to one edge's worth. A weak pull
        # back to the start keeps groups with no edges to the rest from drifting off.
        xy += (moves / neighbours.shape[1]).astype(np.float32) + ANCHOR * (start - xy)
    return xy.astype(np.float64)


def _squared_lengths(delta):
    """Row lengths squared of an (n x 2) array; written out, as a sum over an axis of two
    values costs many times more (as does ``xy[index]`` against ``np.take``, above)."""
    return delta[:, 0] ** 2 + delta[:, 1] ** 2


def _sum_by(index, values, n):
    """Rows of ``values`` summed by ``index`` (n x 2): np.add.at, but much faster."""
    return np.column_stack(
        [np.bincount(index, weights=values[:, 0], minlength=n)]
        + [np.bincount(index, weights=values[:, 1], minlength=n)]
    )


def _vote(labels, neighbours):
    """Each point's cluster as the majority of itself and its neighbours."""
    k = int(labels.max()) + 1
    votes = np.zeros((len(labels), k))
    np.add.at(votes, (np.arange(len(labels)), labels), 1.5)
    for column in range(neighbours.shape[1]):
        np.add.at(votes, (np.arange(len(labels)), labels[neighbours[:, column]]), 1)
    return votes.argmax(axis=1)


def weighted_position(neighbour_xy, scores, sharpness=20.0):
    """Where a new point goes from its neighbours' positions and similarities: a softmax of the
    similarities, so the closest neighbours count most."""
    scores = np.asarray(scores, dtype=np.float64)
    weights = np.exp((scores - scores.max()) * sharpness)
    weights /= weights.sum()
    return (np.asarray(neighbour_xy, dtype=np.float64) * weights[:, None]).sum(axis=0), weights
