"""The vector store: a Qdrant collection of company points, reached through qdrant-client.

``QDRANT_URL`` selects a server or cluster. Without it the store is embedded: Qdrant's local mode
on disk (``QDRANT_PATH``), which one process may open at a time, and which is not thread-safe, so it
is opened on first use and every call holds a lock.

Searches go through an alias (the ``COLLECTION`` setting) that points at a versioned collection,
so the index can be rebuilt into a new collection and switched over without downtime.
"""

import atexit
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timezone

import httpx
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ApiException

from .conf import search_setting

logger = logging.getLogger(__name__)

DENSE = "dense"
SENTENCES = "sentences"
SPARSE = "keywords"


class StoreUnavailable(Exception):
    """The vector store cannot be reached or opened right now."""


class StoreIncompatible(Exception):
    """The collection was built with another model or text recipe than this code uses."""


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
    city: str


@dataclass(frozen=True)
class Fusion:
    """How a query's scores are combined inside Qdrant (tuned with bench/quality.py).

    Semantic score: ``(1 - sentence_weight)`` * cosine to the whole company + ``sentence_weight``
    * cosine to its best-matching sentence. Hybrid adds ``keyword_weight`` * bm25 /
    (bm25 + ``keyword_saturation``): a bounded boost for shared words, so the score keeps how
    similar a result is, not just its rank. A company whose name is the query gets ``name_boost``.
    ``method="rrf"`` / ``"dbsf"`` use Qdrant's rank
    fusions of the three instead (kept for comparison in the benchmark).
    """

    method: str = "formula"
    sentence_weight: float = 0.8
    keyword_weight: float = 0.15
    keyword_saturation: float = 8.0
    # Added when the query is a company's name (ignoring case, spaces and punctuation).
    name_boost: float = 1.0


def _translate_errors(method):
    """Store failures become StoreUnavailable, so callers handle one exception, not five."""

    def wrapper(self, *args, **kwargs):
        try:
            with self._lock:
                return method(self, *args, **kwargs)
        except (StoreUnavailable, StoreIncompatible, PointNotIndexed):
            raise
        except (ApiException, httpx.HTTPError, OSError, RuntimeError) as exc:
            raise StoreUnavailable(f"The search index is unavailable: {exc}") from exc

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


class CompanyStore:
    def __init__(self, client, alias, embedded):
        self.client = client
        self.alias = alias
        self.embedded = embedded
        self._lock = threading.RLock() if embedded else _NoLock()
        self._verified_metadata = None

    # Collection lifecycle -------------------------------------------------------------------

    @_translate_errors
    def ensure_collection(self, metadata):
        """Create the collection and its alias if missing; refuse one built differently."""
        if self._verified_metadata == metadata:
            return
        current = self._collection_metadata()
        if current is None:
            self._create_and_alias(metadata)
        else:
            mismatched = {
                key: (current.get(key), value)
                for key, value in metadata.items()
                if current.get(key) != value
            }
            if mismatched:
                details = ", ".join(
                    f"{key} is {have!r}, this site uses {want!r}"
                    for key, (have, want) in mismatched.items()
                )
                raise StoreIncompatible(
                    f"The search index was built differently ({details}). "
                    "Run: python manage.py search_index --rebuild"
                )
        self._verified_metadata = dict(metadata)

    def _collection_metadata(self):
        if not self.client.collection_exists(self.alias) and not self._alias_target():
            return None
        return self.client.get_collection(self.alias).config.metadata or {}

    def _alias_target(self):
        for alias in self.client.get_aliases().aliases:
            if alias.alias_name == self.alias:
                return alias.collection_name
        return None

    def _create_and_alias(self, metadata):
        name = f"{self.alias}_{datetime.now(timezone.utc):%Y%m%d%H%M%S%f}"
        self.client.create_collection(
            name,
            vectors_config={
                DENSE: models.VectorParams(
                    size=metadata["dimension"], distance=models.Distance.COSINE
                ),
                SENTENCES: models.VectorParams(
                    size=metadata["dimension"], distance=models.Distance.COSINE,
                    multivector_config=models.MultiVectorConfig(
                        comparator=models.MultiVectorComparator.MAX_SIM
                    ),
                ),
            },
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            metadata=metadata,
        )
        if not self.embedded:  # local mode has no payload indexes (and warns)
            self.client.create_payload_index(name, "city", models.PayloadSchemaType.KEYWORD)
            self.client.create_payload_index(name, "terms", models.PayloadSchemaType.INTEGER)
            self.client.create_payload_index(name, "name_key", models.PayloadSchemaType.KEYWORD)
        self.client.update_collection_aliases(
            change_aliases_operations=[
                models.CreateAliasOperation(
                    create_alias=models.CreateAlias(collection_name=name, alias_name=self.alias)
                )
            ]
        )
        logger.info("Created collection %s (alias %s): %s", name, self.alias, metadata)

    @_translate_errors
    def drop(self):
        """Delete the collection behind the alias, and the alias."""
        target = self._alias_target()
        if target:
            self.client.delete_collection(target)
        elif self.client.collection_exists(self.alias):
            self.client.delete_collection(self.alias)
        self._verified_metadata = None

    # Points --------------------------------------------------------------------------------

    @_translate_errors
    def upsert(self, points):
        if points:
            self.client.upsert(
                self.alias,
                points=[
                    models.PointStruct(
                        id=p.id,
                        vector={
                            DENSE: p.dense,
                            SENTENCES: p.sentences,
                            SPARSE: models.SparseVector(indices=p.sparse[0], values=p.sparse[1]),
                        },
                        payload=p.payload,
                    )
                    for p in points
                ],
            )

    @_translate_errors
    def delete(self, ids):
        if ids:
            self.client.delete(self.alias, points_selector=models.PointIdsList(points=list(ids)))

    @_translate_errors
    def count(self, cities=(), terms=None):
        """Points in ``cities`` (all if empty) that contain any of ``terms`` (if given)."""
        return self.client.count(
            self.alias, count_filter=_filter(cities, terms), exact=True
        ).count

    @_translate_errors
    def payloads(self, ids):
        """``{id: payload}`` of the points that exist among ``ids``."""
        records = self.client.retrieve(self.alias, ids=list(ids), with_payload=True)
        return {int(record.id): record.payload for record in records}

    # Queries -------------------------------------------------------------------------------

    @_translate_errors
    def rank(self, *, dense=None, terms=None, name_key=None, cities=(), limit,
             score_threshold=None, fusion=Fusion()):
        """Points matching the query, best first, with every filter applied inside the search.

        ``dense`` (a query vector) scores by meaning, ``terms`` (keyword ids) by BM25 over the
        points containing any of them; given both, hybrid. Each part is a prefetch of ``limit``
        candidates, fused by ``fusion``; ``score_threshold`` applies to the fused score.
        """
        query_filter = _filter(cities)
        prefetch = []
        if dense is not None:
            prefetch += [
                models.Prefetch(query=list(dense), using=DENSE, filter=query_filter, limit=limit),
                models.Prefetch(query=[list(dense)], using=SENTENCES, filter=query_filter,
                                limit=limit),
            ]
        if terms:
            prefetch.append(models.Prefetch(query=_sparse_query(terms), using=SPARSE,
                                            filter=query_filter, limit=limit))
        if not prefetch:
            return []
        if dense is None:  # keyword only: plain BM25
            query, prefetch = prefetch[0].query, None
            using, threshold = SPARSE, None
        else:
            query = _fusion_query(fusion, len(prefetch), name_key)
            using, threshold = None, score_threshold
        response = self.client.query_points(
            self.alias, prefetch=prefetch, query=query, using=using, query_filter=query_filter,
            limit=limit, score_threshold=threshold, with_payload=["city"],
        )
        return [_ranked(point) for point in response.points]

    @_translate_errors
    def recommend(self, point_id, *, cities=(), limit):
        """The points nearest to point ``point_id`` (which is left out)."""
        try:
            response = self.client.query_points(
                self.alias,
                query=models.RecommendQuery(recommend=models.RecommendInput(positive=[point_id])),
                using=DENSE, query_filter=_filter(cities), limit=limit, with_payload=["city"],
            )
        except (ValueError, ApiException) as exc:
            if "not found" in str(exc).lower() or "no point" in str(exc).lower():
                raise PointNotIndexed(point_id) from exc
            raise
        return [_ranked(point) for point in response.points]

    @_translate_errors
    def city_counts(self, *, cities=(), terms=None, limit=100):
        """``{city: count}`` over the points in ``cities`` containing any of ``terms``."""
        response = self.client.facet(
            self.alias, key="city", facet_filter=_filter(cities, terms), limit=limit, exact=True
        )
        return {hit.value: hit.count for hit in response.hits}


def _ranked(point):
    return RankedPoint(int(point.id), point.score, (point.payload or {}).get("city", ""))


def _sparse_query(terms):
    return models.SparseVector(indices=list(terms), values=[1.0] * len(terms))


def _fusion_query(fusion, parts, name_key):
    """The fused score of the prefetches: dense, sentences and (if ``parts`` is 3) keywords."""
    if fusion.method in ("rrf", "dbsf"):
        return models.FusionQuery(fusion=models.Fusion(fusion.method))
    formula = [
        models.MultExpression(mult=[1 - fusion.sentence_weight, "$score[0]"]),
        models.MultExpression(mult=[fusion.sentence_weight, "$score[1]"]),
    ]
    if parts == 3:
        keyword = "$score[2]"
        formula.append(models.MultExpression(mult=[
            fusion.keyword_weight,
            models.DivExpression(div=models.DivParams(
                left=keyword, right=models.SumExpression(sum=[keyword, fusion.keyword_saturation]),
            )),
        ]))
    if name_key:
        formula.append(models.MultExpression(mult=[
            fusion.name_boost,
            models.FieldCondition(key="name_key", match=models.MatchValue(value=name_key)),
        ]))
    return models.FormulaQuery(
        formula=models.SumExpression(sum=formula),
        defaults={f"$score[{i}]": 0.0 for i in range(parts)},
    )


def _filter(cities=(), terms=None):
    conditions = []
    if cities:
        conditions.append(models.FieldCondition(key="city", match=models.MatchAny(any=list(cities))))
    if terms is not None:
        conditions.append(models.FieldCondition(key="terms", match=models.MatchAny(any=list(terms))))
    return models.Filter(must=conditions) if conditions else None


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_opened = (None, None)  # (settings it was opened with, store)
_store_lock = threading.Lock()


def _store_settings():
    return tuple(
        search_setting(name)
        for name in ("QDRANT_URL", "QDRANT_API_KEY", "QDRANT_PATH", "QDRANT_TIMEOUT", "COLLECTION")
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


def _open_store(url, api_key, path, timeout, alias):
    if url:
        client = QdrantClient(
            url=url, api_key=api_key or None, timeout=timeout, check_compatibility=False
        )
        return CompanyStore(client, alias, embedded=False)
    try:
        if path == ":memory:":
            client = QdrantClient(location=":memory:")
        else:
            client = QdrantClient(path=str(path))
    except RuntimeError as exc:
        raise StoreUnavailable(
            f"The embedded search index at {path} is open in another process (is the site, a "
            "worker or a command running?). Stop it, or set QDRANT_URL to a Qdrant server that "
            "several processes can share."
        ) from exc
    return CompanyStore(client, alias, embedded=True)


def _close_opened():
    global _opened
    store = _opened[1]
    _opened = (None, None)
    if store is not None:
        store.client.close()


@atexit.register
def close_store():
    """Close the process's store, releasing the embedded store's lock (tests, commands)."""
    with _store_lock:
        _close_opened()
