"""The map of every searchable company, kept in the database so pages and the API load it at once.

- ``build_landscape`` lays out every point of the live index (``layout.compute``), names the
  clusters (``market_words``) and stores positions (``MapPoint``) and clusters (``MapCluster``),
  then the map encoded as ``/api/map/`` serves it (``map_snapshot``).
  The import and ``manage.py landscape`` run it.
- ``place_points`` puts companies just indexed where their nearest neighbours are, without a
  new layout. Indexing calls it right after writing their points, while their rows are locked
  at the version embedded: of two racing writers, the later one places last, and a position is
  one row per company (no duplicates). Hidden companies are taken off (``unplace``); a deleted
  company's row goes with it (cascade).
- ``repair_landscape`` places searchable companies the map lacks (say, indexed before there was
  a map): the periodic check runs it.

A position records the text hash it was computed from: a full layout, whose vectors were read
before a company changed, leaves that company's newer position alone.
"""

import logging
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from django.db import transaction

from companies.models import Company, IndexStatus, MapCluster, MapPoint

from . import layout, map_snapshot, market_words
from .engines import get_store

logger = logging.getLogger(__name__)

# Neighbours asked of the index for a new company, and how many with a position are used.
NEIGHBOURS = 12
NEIGHBOURS_USED = 8
WRITE_BATCH = 2000
# Write stamps are kept below this (nanoseconds, wrapping every ~17 minutes), so their sum over
# a million positions still fits a 64-bit integer.
WRITTEN_MODULUS = 10**12


@dataclass
class LandscapeReport:
    companies: int = 0
    clusters: int = 0
    skipped: int = 0  # changed since their vectors were read: placed by their neighbours
    seconds: float = 0.0

    def summary(self):
        return (
            f"{self.companies} companies in {self.clusters} clusters "
            f"({self.skipped} changed meanwhile, placed by their neighbours) "
            f"in {self.seconds:.1f}s"
        )


def build_landscape(progress=None):
    """Lay out every company of the live index and store the map. ``progress(stage)``, if given,
    is told what is being done."""
    started = time.monotonic()
    say = progress or (lambda stage: None)
    say("Reading the vectors")
    store = get_store()
    rows = store.company_vectors()
    ids = [pk for pk, _, _ in rows]
    say(f"Laying out {len(ids)} companies")
    if ids:
        xy, labels, centres = layout.compute(np.array([vector for _, _, vector in rows]))
    else:
        xy, labels, centres = np.zeros((0, 2)), np.zeros(0, dtype=int), np.zeros((0, 2))
    say("Naming the clusters")
    texts = _texts(set(ids))
    names = market_words.cluster_labels([texts.get(pk, "") for pk in ids], labels.tolist())
    say("Storing the map")
    computed = {
        pk: (float(x), float(y), int(cluster) + 1, text_hash)
        for (pk, text_hash, _), (x, y), cluster in zip(rows, xy, labels)
    }
    clusters = [
        MapCluster(id=cluster + 1, label=names[cluster][:200], x=float(x), y=float(y))
        for cluster, (x, y) in enumerate(centres)
        if cluster in names
    ]
    written, skipped = _store_layout(computed, clusters)
    say("Encoding the map")
    map_snapshot.refresh()
    return LandscapeReport(written, len(clusters), len(skipped), time.monotonic() - started)


def _texts(ids):
    """``{id: markets and description}`` of the searchable companies among ``ids``."""
    rows = Company.objects.searchable().values_list("pk", "tags", "description").order_by("pk")
    return {
        pk: f"{tags} {description}" for pk, tags, description in rows.iterator(2000) if pk in ids
    }


def _store_layout(computed, clusters):
    """Replace the map with ``computed`` (``{id: (x, y, cluster, hash)}``) and ``clusters``.

    The searchable rows are locked (in id order, as indexing locks them) so no company is
    indexed meanwhile; a company whose indexed text is no longer the one laid out is placed by
    its neighbours instead. ``(positions written, ids of those)``.
    """
    with transaction.atomic():
        current = dict(
            Company.objects.select_for_update()
            .filter(searchable=True)
            .order_by("pk")
            .values_list("pk", "indexed_hash")
        )
        MapCluster.objects.all().delete()
        MapCluster.objects.bulk_create(clusters)
        MapPoint.objects.exclude(company__searchable=True).delete()
        same = [pk for pk, row in computed.items() if current.get(pk) == row[3]]
        _write(
            MapPoint(company_id=pk, x=x, y=y, cluster=c, hash=h)
            for pk, (x, y, c, h) in ((pk, computed[pk]) for pk in same)
        )
        same = set(same)
        skipped = {
            pk: text_hash for pk, text_hash in current.items() if text_hash and pk not in same
        }
        _place_from_store(skipped)
    return len(same), skipped


def _write(points):
    """Insert or replace ``points``: rounded as ``/api/map/`` serves them (so reading needs no
    rounding), each stamped with when it was written (for ``map_snapshot.fingerprint``)."""
    points = list(points)
    now = time.time_ns() % WRITTEN_MODULUS
    for n, point in enumerate(points):
        point.x, point.y, point.written = round(point.x, 1), round(point.y, 1), now + n
    for start in range(0, len(points), WRITE_BATCH):
        MapPoint.objects.bulk_create(
            points[start : start + WRITE_BATCH],
            update_conflicts=True,
            unique_fields=["company"],
            update_fields=["x", "y", "cluster", "hash", "written"],
        )


def place_points(points):
    """Place ``points`` (``IndexPoint``s just written to the live index, their rows locked) by
    their nearest neighbours' positions. Nothing to do before the first full layout."""
    if not points or not MapCluster.objects.exists():
        return 0
    return _place([(p.id, p.payload["hash"], p.dense) for p in points])


def _place(rows):
    """Place ``rows`` (``(id, text hash, vector)``) at the similarity-weighted mean of their
    nearest placed neighbours, in the cluster most of that weight belongs to."""
    neighbours = get_store().nearest_batch(
        [(vector, pk) for pk, _, vector in rows], limit=NEIGHBOURS
    )
    wanted = {pk for near in neighbours for pk, _ in near}
    known = {
        pk: (x, y, cluster)
        for pk, x, y, cluster in MapPoint.objects.filter(
            company__in=wanted, company__searchable=True
        ).values_list("company_id", "x", "y", "cluster")
    }
    placed, unplaced = [], []
    for (pk, text_hash, _), near in zip(rows, neighbours):
        near = [(other, score) for other, score in near if other in known][:NEIGHBOURS_USED]
        if not near:  # none of its neighbours is on the map: the repair places it later
            unplaced.append(pk)
            continue
        (x, y), weights = layout.weighted_position(
            [known[other][:2] for other, _ in near], [score for _, score in near]
        )
        votes = defaultdict(float)
        for (other, _), weight in zip(near, weights):
            votes[known[other][2]] += weight
        cluster = max(votes, key=votes.get)
        placed.append(
            MapPoint(company_id=pk, x=float(x), y=float(y), cluster=cluster, hash=text_hash)
        )
    _write(placed)
    # A position from an older text is not kept in place of none.
    MapPoint.objects.filter(company__in=unplaced).delete()
    return len(placed)


def _place_from_store(hashes):
    """Place companies ``hashes`` (``{id: indexed text hash}``) by the vectors the index holds
    for them, those whose point has that hash."""
    if not hashes:
        return 0
    rows = [row for row in get_store().vectors(list(hashes)) if hashes[row[0]] == row[1]]
    return _place(rows) if rows else 0


def unplace(pks):
    """Take companies ``pks`` off the map (hidden from search)."""
    if pks:
        MapPoint.objects.filter(company__in=pks).delete()


def repair_landscape():
    """Place the searchable, indexed companies the map lacks, or holds from an older text; take
    hidden ones off. Rows locked in id order, as indexing locks them. The count placed. When no
    company is left on the map to place them by, a full layout follows instead."""
    if not MapCluster.objects.exists():
        return 0
    with transaction.atomic():
        MapPoint.objects.exclude(company__searchable=True).delete()
        stored = dict(MapPoint.objects.values_list("company_id", "hash"))
        rows = (
            Company.objects.select_for_update()
            .filter(searchable=True, index_status=IndexStatus.INDEXED)
            .exclude(indexed_hash="")
            .order_by("pk")
            .values_list("pk", "indexed_hash")
        )
        todo = {pk: text_hash for pk, text_hash in rows if stored.get(pk) != text_hash}
        placed = _place_from_store(todo)
        if todo and not MapPoint.objects.filter(company__searchable=True).exists():
            # Every company on the map went (deleted or hidden): nothing to place by.
            transaction.on_commit(build_landscape, robust=True)
        return placed
