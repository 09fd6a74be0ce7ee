"""The vector store: where company points live and how they are queried, whatever the engine.

Two engines implement ``CompanyStore`` (``engines.open_store`` picks one from the settings):
- a Qdrant server or cluster through qdrant-client, when ``QDRANT_URL`` is set
  (``store_qdrant.QdrantServerStore``);
- otherwise the embedded default, Qdrant Edge on disk at ``QDRANT_PATH``
  (``store_edge.EdgeStore``): Qdrant's own engine in-process (HNSW, payload indexes, the same
  query model), which one process may open at a time. qdrant-client's local mode is selectable
  as ``EMBEDDED_ENGINE="qdrant-local"``: it runs the server code path without a server (the
  engines' speeds are compared by ``bench/store_engines.py``, figures in the README).

``PlanStore`` holds everything engines share: the generations bookkeeping, the write targets,
scrolling for hashes, what a query asks (built as an engine-neutral plan in ``plan.py``) and
which errors mean "unavailable". An engine only names its generations and translates and runs a
plan with its own client.

A store holds generations of the index: the live one answers queries; during a rebuild a next one
is filled and every write goes to both, then it replaces the live one in one step.
"""

import functools
import logging
from dataclasses import dataclass

from .plan import (
    DENSE,
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    RANKED_PAYLOAD,
    SENTENCES,
    SPARSE,
    CountPlan,
    FacetPlan,
    Filter,
    Fusion,
    RankRequest,
    nearest_plan,
    rank_plan,
)

__all__ = [
    "DENSE",
    "INTEGER_FIELDS",
    "KEYWORD_FIELDS",
    "RANKED_PAYLOAD",
    "SENTENCES",
    "SPARSE",
    "Fusion",
    "RankRequest",
]
logger = logging.getLogger(__name__)
SCROLL_PAGE = 1000


class StoreUnavailable(Exception):
    """The vector store cannot be reached or opened right now."""


class StoreIncompatible(Exception):
    """The index was built with another model or text recipe than this code uses."""


class PointNotIndexed(Exception):
    """The company asked about has no point in the index (yet)."""


@dataclass(frozen=True)
class IndexPoint:
    id: int
    dense: list  # the whole company
    sentences: list  # one vector per sentence (a multivector, scored by its best sentence)
    sparse: tuple  # (indices, values)
    payload: dict


@dataclass(frozen=True)
class RankedPoint:
    id: int
    score: float
    city: str  # normalised, as filtered and counted
    city_name: str  # as displayed


def guarded(method):
    """One call at a time under the store's lock, and the failures the engine says mean "cannot
    be reached or opened" raised as StoreUnavailable. Anything else (a programming error, a
    request the engine refuses) propagates as it is, to be seen as the bug it is."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            with self._lock:
                return method(self, *args, **kwargs)
        except (StoreUnavailable, StoreIncompatible, PointNotIndexed):
            raise
        except Exception as exc:
            if self.is_unavailable(exc):
                raise StoreUnavailable(f"The search index is unavailable: {exc}") from exc
            raise

    return wrapper


class CompanyStore:
    """What the search package needs from a store, written once on top of an engine's
    primitives (the underscored methods each engine implements).

    A generation is named by a string; ``_handle(name, live=...)`` gives what the engine's
    calls take for it (an open shard, a collection or the alias of the live one).
    """

    _verified = None  # the metadata the live index was last found compatible with

    # What an engine implements -------------------------------------------------------------

    def is_unavailable(self, exc):
        """Whether ``exc`` means the store cannot be reached or opened (not a bug)."""
        raise NotImplementedError

    def _generations(self):
        """``(live, next)`` generation names, None where there is none."""
        raise NotImplementedError

    def _set_generations(self, live, next_):
        """Point live and next at these generations, in one atomic step."""
        raise NotImplementedError

    def _generation_metadata(self, name):
        raise NotImplementedError

    def _create_generation(self, metadata):
        """A new empty generation (vectors, payload indexes, ``metadata``): its name."""
        raise NotImplementedError

    def _release_generation(self, name, *, delete):
        """Stop using a generation that is no longer live or next; delete it if ``delete``."""
        raise NotImplementedError

    def _index_payload_fields(self, name):
        """Create the payload indexes a generation lacks (one made by an older version)."""
        raise NotImplementedError

    def _handle(self, name, *, live=False):
        raise NotImplementedError

    def _upsert(self, handle, points):
        raise NotImplementedError

    def _delete(self, handle, ids):
        raise NotImplementedError

    def _scroll(self, handle, offset, limit, *, with_vector=None):
        """``(records, next offset or None)``; records have ``id`` and ``payload["hash"]``, and
        ``vector[with_vector]`` when that vector is asked for."""
        raise NotImplementedError

    def _retrieve(self, handle, ids, *, with_payload, with_vector):
        """Records (``id``, ``payload``, ``vector``) of the points among ``ids``."""
        raise NotImplementedError

    def _query_batch(self, handle, plans):
        """For each ``QueryPlan``, its scored points (``id``, ``score``, ``payload``)."""
        raise NotImplementedError

    def _count(self, handle, plan):
        raise NotImplementedError

    def _facet(self, handle, plan):
        """``{value: count}`` for a ``FacetPlan``."""
        raise NotImplementedError

    def _flush(self, handle):
        """Make a generation's writes durable before it goes live (an embedded engine's job)."""

    def _optimize(self, handle):
        """Build search structures after bulk writes (an embedded engine's job)."""

    def close(self):
        raise NotImplementedError

    # Generations ---------------------------------------------------------------------------

    @guarded
    def metadata(self):
        """What the live index was built with (model, dimension, recipe), or None."""
        live, _ = self._generations()
        return self._generation_metadata(live) if live else None

    @guarded
    def ensure_index(self, metadata):
        """Create the live index if there is none; refuse one built with other ``metadata``."""
        if self._verified == metadata:
            return
        live, next_ = self._generations()
        if live is None:
            self._set_generations(self._create_generation(metadata), next_)
        elif problem := incompatibility(self._generation_metadata(live), metadata):
            raise StoreIncompatible(problem)
        else:
            self._index_payload_fields(live)
        self._verified = dict(metadata)

    @guarded
    def begin_rebuild(self, metadata):
        """Start (or resume) filling a next index; writes go to both from now on. Its name."""
        live, next_ = self._generations()
        if next_ and self._generation_metadata(next_) == metadata:
            return next_
        if next_:  # an abandoned rebuild for another model: start over
            self._set_generations(live, None)
            self._release_generation(next_, delete=True)
        next_ = self._create_generation(metadata)
        self._set_generations(live, next_)
        return next_

    @guarded
    def live_target(self):
        """The name of the live index, or None."""
        return self._generations()[0]

    @guarded
    def rebuild_target(self):
        """The name of the next index being filled, or None."""
        return self._generations()[1]

    @guarded
    def finish_rebuild(self, *, keep_old=False):
        """Make the next index the live one in one step; drop the old unless ``keep_old``."""
        old, next_ = self._generations()
        self._flush(self._handle(next_))
        self._set_generations(next_, None)
        if old:
            self._release_generation(old, delete=not keep_old)
        self._verified = None
        logger.info("Index %s is live (was %s%s)", next_, old, ", kept" if keep_old else "")
        return old

    @guarded
    def drop(self):
        """Delete every generation of the index."""
        generations = [name for name in self._generations() if name]
        self._set_generations(None, None)
        for name in generations:
            self._release_generation(name, delete=True)
        self._verified = None

    def _write_targets(self, only_next):
        live, next_ = self._generations()
        targets = [] if only_next or live is None else [self._handle(live, live=True)]
        return targets + ([self._handle(next_)] if next_ else [])

    def _live(self):
        live = self._generations()[0]
        if live is None:
            raise StoreUnavailable("The search index has not been built yet.")
        return self._handle(live, live=True)

    # Points --------------------------------------------------------------------------------

    @guarded
    def upsert(self, points, *, only_next=False):
        if points:
            for target in self._write_targets(only_next):
                self._upsert(target, points)

    @guarded
    def delete(self, ids, *, only_next=False):
        if ids:
            for target in self._write_targets(only_next):
                self._delete(target, list(ids))

    @guarded
    def optimize(self, *, next_index=False):
        """Build search structures after bulk writes (an embedded engine's job; a server's own)."""
        name = self._generations()[1 if next_index else 0]
        if name:
            self._optimize(self._handle(name, live=not next_index))

    @guarded
    def point_hashes(self, *, next_index=False):
        """``{id: text hash}`` of every point (of the next index if ``next_index``; none when
        no rebuild runs)."""
        name = self._generations()[1 if next_index else 0]
        if name is None:
            return {}
        handle, hashes, offset = self._handle(name, live=not next_index), {}, None
        while True:
            records, offset = self._scroll(handle, offset, SCROLL_PAGE)
            hashes.update({int(r.id): (r.payload or {}).get("hash", "") for r in records})
            if offset is None:
                return hashes

    @guarded
    def company_vectors(self, *, page=SCROLL_PAGE):
        """``[(id, text hash, whole-company vector)]`` of every live point, for the map.

        The map places a company by its whole-company vector (the normalised mean of its
        sentences), the one "similar companies" compares too: one vector per company.
        """
        handle, rows, offset = self._live(), [], None
        while True:
            records, offset = self._scroll(handle, offset, page, with_vector=DENSE)
            rows.extend(
                (int(r.id), (r.payload or {}).get("hash", ""), r.vector[DENSE]) for r in records
            )
            if offset is None:
                return rows

    @guarded
    def vectors(self, ids):
        """``[(id, text hash, whole-company vector)]`` of the points that exist among ``ids``."""
        handle, ids, rows = self._live(), list(ids), []
        for start in range(0, len(ids), SCROLL_PAGE):
            chunk = ids[start : start + SCROLL_PAGE]
            records = self._retrieve(handle, chunk, with_payload=True, with_vector=DENSE)
            rows.extend(
                (int(r.id), (r.payload or {}).get("hash", ""), r.vector[DENSE]) for r in records
            )
        return rows

    @guarded
    def nearest_batch(self, queries, *, limit):
        """For each ``(vector, id to leave out)``, the ``(id, score)`` of the nearest points by
        the whole-company vector, best first (one round trip)."""
        plans = [nearest_plan(vector, exclude_id=pk, limit=limit) for vector, pk in queries]
        results = self._query_batch(self._live(), plans) if plans else []
        return [[(int(point.id), point.score) for point in points] for points in results]

    @guarded
    def count(self, *, cities=(), required=None, exclude_ids=()):
        """Points in ``cities`` (all if empty) that meet ``required`` (``Filter.required``, if
        given), other than ``exclude_ids``."""
        plan_filter = Filter(tuple(cities), _required(required), tuple(exclude_ids))
        return self._count(self._live(), CountPlan(plan_filter))

    @guarded
    def payloads(self, ids):
        """``{id: payload}`` of the points that exist among ``ids``."""
        records = self._retrieve(self._live(), list(ids), with_payload=True, with_vector=False)
        return {int(record.id): record.payload for record in records}

    # Queries -------------------------------------------------------------------------------

    def rank(self, request):
        """``RankedPoint``s for a ``RankRequest``, best first."""
        return self.rank_batch([request])[0]

    @guarded
    def rank_batch(self, requests):
        """``rank`` for several requests at once (one round trip, one pass over the data)."""
        results = self._query_batch(self._live(), [rank_plan(request) for request in requests])
        return [[ranked_point(point) for point in points] for points in results]

    @guarded
    def recommend(self, point_id, *, cities=(), limit):
        """The points nearest to point ``point_id`` (which is left out)."""
        handle = self._live()
        records = self._retrieve(handle, [point_id], with_payload=False, with_vector=DENSE)
        if not records:
            raise PointNotIndexed(point_id)
        plan = nearest_plan(
            records[0].vector[DENSE], exclude_id=point_id, cities=cities, limit=limit
        )
        return [ranked_point(point) for point in self._query_batch(handle, [plan])[0]]

    @guarded
    def city_counts(self, *, cities=(), required=None, exclude_ids=(), limit=100):
        """``{city as displayed: count}`` over the points in ``cities`` that meet ``required``
        (``Filter.required``, if given), other than ``exclude_ids``."""
        plan_filter = Filter(tuple(cities), _required(required), tuple(exclude_ids))
        plan = FacetPlan("city_name", plan_filter, limit)
        return self._facet(self._live(), plan)


def _required(required):
    if required is None:
        return None
    return tuple(tuple(tuple(terms) for terms in alternatives) for alternatives in required)


def ranked_point(point):
    """A search engine's scored point as a ``RankedPoint``."""
    payload = point.payload or {}
    return RankedPoint(
        int(point.id), point.score, payload.get("city", ""), payload.get("city_name", "")
    )


def incompatibility(have, want):
    """Why an index built with ``have`` cannot serve ``want``, or None."""
    mismatched = [key for key, value in want.items() if (have or {}).get(key) != value]
    if not mismatched:
        return None
    details = ", ".join(
        f"{key} is {have.get(key)!r}, this site uses {want[key]!r}" for key in mismatched
    )
    return (
        f"The search index was built differently ({details}). "
        "Run: python manage.py search_index --rebuild"
    )


def in_use_message(path):
    return (
        f"The embedded search index at {path} is open in another process (is the site, a "
        "worker or a command running?). Stop it, or set QDRANT_URL to a Qdrant server that "
        "several processes can share."
    )
