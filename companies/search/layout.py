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
   most of them are in, and moves part of the way towards where they lie, a few times over, so
   companies that do the same thing sit together even across a cluster's edge.

Coordinates fit in ``[0, SCALE]`` on both axes.
"""

import numpy as np

SCALE = 1000.0
PCA_DIMENSIONS = 50
MAX_CLUSTERS = 40
KMEANS_ITERATIONS = 30
SEED = 16
NEIGHBOURS = 10
SMOOTHING_ROUNDS = 4
KNN_CHUNK = 1000


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
    neighbours = nearest_neighbours(reduced, min(NEIGHBOURS, len(vectors) - 1))
    labels = _vote(labels, neighbours)
    sizes = np.bincount(labels, minlength=len(centres)).astype(float)
    used = sizes > 0
    labels = np.cumsum(used)[labels] - 1
    centres = np.array([reduced[labels == c].mean(axis=0) for c in range(int(used.sum()))])
    centre_xy, radii = place_centres(centres, sizes[used], rng)
    xy = place_members(reduced, labels, centres, centre_xy, radii)
    for _ in range(SMOOTHING_ROUNDS):
        xy = 0.5 * xy + 0.5 * xy[neighbours].mean(axis=1)
    centre_xy = np.array([xy[labels == c].mean(axis=0) for c in range(len(centres))])
    fit = fitting(xy)
    return fit(xy), labels, fit(centre_xy)


def nearest_neighbours(points, k):
    """The ``k`` nearest other points of each point (n x k indices), exact, a chunk at a time."""
    points = np.ascontiguousarray(points, dtype=np.float32)
    squared = (points**2).sum(axis=1)
    result = np.empty((len(points), k), dtype=np.int64)
    for start in range(0, len(points), KNN_CHUNK):
        chunk = points[start : start + KNN_CHUNK]
        distances = squared[start : start + KNN_CHUNK, None] - 2 * chunk @ points.T + squared
        rows = np.arange(len(chunk))
        distances[rows, rows + start] = np.inf
        nearest = np.argpartition(distances, k, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(distances, nearest, axis=1), axis=1)
        result[start : start + KNN_CHUNK] = np.take_along_axis(nearest, order, axis=1)
    return result


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
