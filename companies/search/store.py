"""The vector store: where company points live and how they are queried.

Two engines behind one interface (``CompanyStore``):
- a Qdrant server or cluster through qdrant-client, when ``QDRANT_URL`` is set
  (``store_qdrant.QdrantServerStore``);
- otherwise the embedded default, Qdrant Edge on disk at ``QDRANT_PATH``
  (``store_edge.EdgeStore``): Qdrant's own engine in-process (HNSW, payload indexes, the same
  query model), which one process may open at a time. qdrant-client's local mode measured
  2.9 s per filtered hybrid query at 50k companies against Edge's milliseconds
  (``bench/store_engines.py``), so it is not the default; it remains selectable as
  ``EMBEDDED_ENGINE="qdrant-local"``, which runs the server code path without a server.

A store holds generations of the index: the live one answers queries; during a rebuild a next one
is filled and every write goes to both, then it replaces the live one in one step.
"""

import atexit
import functools
import threading
from dataclasses import dataclass

from .conf import search_setting

DENSE = "dense"
SENTENCES = "sentences"
SPARSE = "keywords"
# What a ranking returns of each point's payload.
RANKED_PAYLOAD = ["city", "city_name"]
# Payload fields with an index: filters and facets run on them.
KEYWORD_FIELDS = ("city", "city_name", "name_key")
INTEGER_FIELDS = ("terms",)


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


@dataclass(frozen=True)
class Fusion:
    """How a query's scores are combined (tuned with bench/quality.py).

    Semantic score: ``(1 - sentence_weight)`` * cosine to the whole company + ``sentence_weight``
    * cosine to its best-matching sentence. Hybrid adds ``keyword_weight`` * bm25 /
    (bm25 + ``keyword_saturation``): a bounded boost for shared words, so the score keeps how
    similar a result is, not just its rank. A company whose name is the query gets ``name_boost``.
    ``method="rrf"`` / ``"dbsf"`` use Qdrant's rank fusions instead (compared in the benchmark).
    """

    method: str = "formula"
    sentence_weight: float = 0.8
    keyword_weight: float = 0.15
    keyword_saturation: float = 8.0
    name_boost: float = 1.0


@dataclass(frozen=True)
class RankRequest:
    """One ranking: by meaning (``dense``), by keywords (``terms``), or both (hybrid).

    Candidates come from the whole-company vectors and from the keyword index, ``candidates`` of
    each, with the filters applied inside those searches; they are then scored by the fused
    formula. ``score_threshold`` applies to the fused score.
    """

    dense: tuple = None
    terms: tuple = None
    name_key: str = None
    cities: tuple = ()
    limit: int = 10
    candidates: int = 100
    score_threshold: float = None
    fusion: Fusion = Fusion()


class CompanyStore:
    """What the rest of the search package needs from a store, whatever the engine."""

    def ensure_index(self, metadata):
        """Create the live index if there is none; refuse one built with other ``metadata``."""
        raise NotImplementedError

    def metadata(self):
        """What the live index was built with (model, dimension, recipe), or None."""
        raise NotImplementedError

    def begin_rebuild(self, metadata):
        """Start (or resume) filling a next index; writes go to both from now on. Its name."""
        raise NotImplementedError

    def rebuild_target(self):
        """The name of the next index being filled, or None."""
        raise NotImplementedError

    def finish_rebuild(self, *, keep_old=False):
        """Make the next index the live one in one step; drop the old unless ``keep_old``."""
        raise NotImplementedError

    def drop(self):
        """Delete every generation of the index."""
        raise NotImplementedError

    def upsert(self, points, *, only_next=False):
        raise NotImplementedError

    def delete(self, ids, *, only_next=False):
        raise NotImplementedError

    def optimize(self, *, next_index=False):
        """Build search structures after bulk writes (an embedded engine's job; a server's own)."""

    def point_hashes(self, *, next_index=False):
        """``{id: text hash}`` of every point (of the next index if ``next_index``)."""
        raise NotImplementedError

    def count(self, *, cities=(), terms=None):
        """Points in ``cities`` (all if empty) containing any of ``terms`` (if given)."""
        raise NotImplementedError

    def payloads(self, ids):
        """``{id: payload}`` of the points that exist among ``ids``."""
        raise NotImplementedError

    def rank(self, request):
        """``RankedPoint``s for a ``RankRequest``, best first."""
        return self.rank_batch([request])[0]

    def rank_batch(self, requests):
        """``rank`` for several requests at once (one round trip, one pass over the data)."""
        raise NotImplementedError

    def recommend(self, point_id, *, cities=(), limit):
        """The points nearest to point ``point_id`` (which is left out)."""
        raise NotImplementedError

    def city_counts(self, *, cities=(), terms=None, limit=100):
        """``{city as displayed: count}`` over the points in ``cities`` containing any of
        ``terms``."""
        raise NotImplementedError

    def close(self):
        raise NotImplementedError


def translate_errors(unavailable):
    """A decorator for engine methods: one call at a time under the store's lock, and the
    engine's ``unavailable`` errors raised as StoreUnavailable, so callers handle one exception.
    Programming errors pass through as they are."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            try:
                with self._lock:
                    return method(self, *args, **kwargs)
            except (
                StoreUnavailable,
                StoreIncompatible,
                PointNotIndexed,
                TypeError,
                AttributeError,
                NameError,
            ):
                raise
            except unavailable as exc:
                raise StoreUnavailable(f"The search index is unavailable: {exc}") from exc

        return wrapper

    return decorate


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


_opened = (None, None)  # (settings it was opened with, store)
_store_lock = threading.Lock()


def _store_settings():
    return tuple(
        search_setting(name)
        for name in (
            "QDRANT_URL",
            "QDRANT_API_KEY",
            "QDRANT_PATH",
            "QDRANT_TIMEOUT",
            "COLLECTION",
            "EMBEDDED_ENGINE",
        )
    )


def get_store():
    """The process's store, opened on first use (after any fork, so workers get their own)."""
    global _opened
    wanted = _store_settings()
    if _opened[0] != wanted:
        with _store_lock:
            if _opened[0] != wanted:
                _close_opened()
                _opened = (wanted, _open_store(*wanted))
    return _opened[1]


def _open_store(url, api_key, path, timeout, name, engine):
    if url:
        from .store_qdrant import QdrantServerStore

        return QdrantServerStore.for_server(url, api_key=api_key, timeout=timeout, alias=name)
    if engine == "qdrant-local":
        from .store_qdrant import QdrantServerStore

        return QdrantServerStore.for_local_path(path, alias=name)
    from .store_edge import EdgeStore

    return EdgeStore(path, name=name)


def peek_metadata():
    """What the live index was built with, read without taking the store (start-up checks)."""
    url, api_key, path, timeout, name, engine = _store_settings()
    if url:
        from .store_qdrant import QdrantServerStore

        store = QdrantServerStore.for_server(url, api_key=api_key, timeout=timeout, alias=name)
        try:
            return store.metadata()
        finally:
            store.close()
    if engine == "edge":
        from .store_edge import read_metadata

        return read_metadata(path, name)
    return None  # qdrant-local can only be read by its single owner


def _close_opened():
    global _opened
    store = _opened[1]
    _opened = (None, None)
    if store is not None:
        store.close()


@atexit.register
def close_store():
    """Close the process's store, releasing the embedded store's lock (tests, commands)."""
    with _store_lock:
        _close_opened()


def in_use_message(path):
    return (
        f"The embedded search index at {path} is open in another process (is the site, a "
        "worker or a command running?). Stop it, or set QDRANT_URL to a Qdrant server that "
        "several processes can share."
    )
