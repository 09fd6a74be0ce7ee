"""The store on a Qdrant server or cluster, through qdrant-client.

The live collection is reached through an alias (the ``COLLECTION`` setting) that points at a
versioned collection; a rebuild fills a new one behind a second alias (``<name>_next``) and
swaps the first in one atomic alias operation. qdrant-client's local mode (a folder, no server)
runs the same code, which is how the tests exercise this path on machines without a server.
"""

import logging
import threading
from datetime import UTC, datetime

import httpx
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ApiException

from .conf import search_setting
from .store import (
    DENSE,
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    RANKED_PAYLOAD,
    SENTENCES,
    SPARSE,
    CompanyStore,
    PointNotIndexed,
    StoreIncompatible,
    StoreUnavailable,
    in_use_message,
    incompatibility,
    ranked_point,
    translate_errors,
)

logger = logging.getLogger(__name__)
SCROLL_PAGE = 1000


_translate_errors = translate_errors(
    (ApiException, httpx.HTTPError, OSError, RuntimeError, ValueError)
)


class QdrantServerStore(CompanyStore):
    def __init__(self, client, alias, *, embedded):
        self.client = client
        self.alias = alias
        self.next_alias = f"{alias}_next"
        self.embedded = embedded
        # Local mode is not thread-safe; the server client is.
        self._lock = threading.RLock() if embedded else _NoLock()
        self._verified = None

    @classmethod
    def for_server(cls, url, *, api_key, timeout, alias):
        client = QdrantClient(
            url=url, api_key=api_key or None, timeout=timeout, check_compatibility=False
        )
        return cls(client, alias, embedded=False)

    @classmethod
    def for_local_path(cls, path, *, alias):
        try:
            client = (
                QdrantClient(location=":memory:")
                if path == ":memory:"
                else QdrantClient(path=str(path))
            )
        except RuntimeError as exc:
            raise StoreUnavailable(in_use_message(path)) from exc
        return cls(client, alias, embedded=True)

    # Generations ---------------------------------------------------------------------------

    def _aliases(self):
        return {a.alias_name: a.collection_name for a in self.client.get_aliases().aliases}

    @_translate_errors
    def metadata(self):
        if self.alias not in self._aliases():
            return None
        return self.client.get_collection(self.alias).config.metadata or {}

    @_translate_errors
    def ensure_index(self, metadata):
        if self._verified == metadata:
            return
        have = self.metadata()
        if have is None:
            self._switch_alias(self.alias, self._create_collection(metadata))
        elif problem := incompatibility(have, metadata):
            raise StoreIncompatible(problem)
        else:
            self._index_payload_fields(self.alias)
        self._verified = dict(metadata)

    @_translate_errors
    def begin_rebuild(self, metadata):
        target = self._aliases().get(self.next_alias)
        if target and self.client.get_collection(target).config.metadata == metadata:
            return target
        if target:  # an abandoned rebuild for another model: start over
            self._drop_alias_and_collection(self.next_alias, target)
        target = self._create_collection(metadata)
        self._switch_alias(self.next_alias, target)
        return target

    @_translate_errors
    def rebuild_target(self):
        return self._aliases().get(self.next_alias)

    @_translate_errors
    def finish_rebuild(self, *, keep_old=False):
        aliases = self._aliases()
        target, old = aliases[self.next_alias], aliases.get(self.alias)
        self.client.update_collection_aliases(
            change_aliases_operations=[
                models.DeleteAliasOperation(
                    delete_alias=models.DeleteAlias(alias_name=self.next_alias)
                ),
                *(
                    [
                        models.DeleteAliasOperation(
                            delete_alias=models.DeleteAlias(alias_name=self.alias)
                        )
                    ]
                    if old
                    else []
                ),
                models.CreateAliasOperation(
                    create_alias=models.CreateAlias(collection_name=target, alias_name=self.alias)
                ),
            ]
        )
        if old and not keep_old:
            self.client.delete_collection(old)
        self._verified = None
        logger.info("Index %s is live (was %s%s)", target, old, ", kept" if keep_old else "")
        return old

    @_translate_errors
    def drop(self):
        for alias, collection in self._aliases().items():
            if alias in (self.alias, self.next_alias):
                self._drop_alias_and_collection(alias, collection)
        self._verified = None

    def _drop_alias_and_collection(self, alias, collection):
        self.client.update_collection_aliases(
            change_aliases_operations=[
                models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias))
            ]
        )
        self.client.delete_collection(collection)

    def _create_collection(self, metadata):
        name = f"{self.alias}_{datetime.now(UTC):%Y%m%d%H%M%S%f}"
        size = metadata["dimension"]
        self.client.create_collection(
            name,
            vectors_config={
                DENSE: models.VectorParams(size=size, distance=models.Distance.COSINE),
                # Only ever used to rescore candidates: no HNSW graph needed.
                SENTENCES: models.VectorParams(
                    size=size,
                    distance=models.Distance.COSINE,
                    multivector_config=models.MultiVectorConfig(
                        comparator=models.MultiVectorComparator.MAX_SIM
                    ),
                    hnsw_config=models.HnswConfigDiff(m=0),
                ),
            },
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            metadata=metadata,
            **cluster_options(),
        )
        self._index_payload_fields(name)
        logger.info("Created collection %s: %s", name, metadata)
        return name

    def _index_payload_fields(self, collection):
        """Create the payload indexes a collection lacks (new, or made by an older version)."""
        if self.embedded:  # local mode has no payload indexes (and warns)
            return
        present = set(self.client.get_collection(collection).payload_schema or {})
        for fields, schema in (
            (KEYWORD_FIELDS, models.PayloadSchemaType.KEYWORD),
            (INTEGER_FIELDS, models.PayloadSchemaType.INTEGER),
        ):
            for field in fields:
                if field not in present:
                    self.client.create_payload_index(collection, field, schema)

    def _switch_alias(self, alias, collection):
        self.client.update_collection_aliases(
            change_aliases_operations=[
                models.CreateAliasOperation(
                    create_alias=models.CreateAlias(collection_name=collection, alias_name=alias)
                )
            ]
        )

    def _write_targets(self, only_next):
        next_collection = self._aliases().get(self.next_alias)
        if only_next:
            return [next_collection] if next_collection else []
        return [self.alias] + ([next_collection] if next_collection else [])

    # Points --------------------------------------------------------------------------------

    @_translate_errors
    def upsert(self, points, *, only_next=False):
        if not points:
            return
        structs = [
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
        ]
        for target in self._write_targets(only_next):
            self.client.upsert(target, points=structs)

    @_translate_errors
    def delete(self, ids, *, only_next=False):
        if ids:
            for target in self._write_targets(only_next):
                self.client.delete(target, points_selector=models.PointIdsList(points=list(ids)))

    @_translate_errors
    def point_hashes(self, *, next_index=False):
        target = self._aliases().get(self.next_alias) if next_index else self.alias
        hashes, offset = {}, None
        while True:
            records, offset = self.client.scroll(
                target, limit=SCROLL_PAGE, offset=offset, with_payload=["hash"], with_vectors=False
            )
            hashes.update({int(r.id): (r.payload or {}).get("hash", "") for r in records})
            if offset is None:
                return hashes

    @_translate_errors
    def count(self, *, cities=(), terms=None):
        return self.client.count(self.alias, count_filter=_filter(cities, terms), exact=True).count

    @_translate_errors
    def payloads(self, ids):
        records = self.client.retrieve(self.alias, ids=list(ids), with_payload=True)
        return {int(record.id): record.payload for record in records}

    # Queries -------------------------------------------------------------------------------

    @_translate_errors
    def rank_batch(self, requests):
        responses = self.client.query_batch_points(
            self.alias, requests=[_query_request(request) for request in requests]
        )
        return [[ranked_point(point) for point in response.points] for response in responses]

    @_translate_errors
    def recommend(self, point_id, *, cities=(), limit):
        try:
            response = self.client.query_points(
                self.alias,
                query=models.RecommendQuery(recommend=models.RecommendInput(positive=[point_id])),
                using=DENSE,
                query_filter=_filter(cities),
                limit=limit,
                with_payload=RANKED_PAYLOAD,
            )
        except (ValueError, ApiException) as exc:
            if "not found" in str(exc).lower() or "no point" in str(exc).lower():
                raise PointNotIndexed(point_id) from exc
            raise
        return [ranked_point(point) for point in response.points]

    @_translate_errors
    def city_counts(self, *, cities=(), terms=None, limit=100):
        response = self.client.facet(
            self.alias,
            key="city_name",
            facet_filter=_filter(cities, terms),
            limit=limit,
            exact=True,
        )
        return {hit.value: hit.count for hit in response.hits}

    def close(self):
        self.client.close()


def _query_request(request):
    """The Qdrant query for a ``RankRequest`` (see its docstring for the plan)."""
    query_filter = _filter(request.cities)
    sparse = _sparse(request.terms) if request.terms else None
    if request.dense is None:
        return models.QueryRequest(
            query=sparse,
            using=SPARSE,
            filter=query_filter,
            limit=request.limit,
            with_payload=RANKED_PAYLOAD,
        )
    dense = list(request.dense)
    candidates = [
        models.Prefetch(query=dense, using=DENSE, filter=query_filter, limit=request.candidates)
    ]
    if sparse is not None:
        candidates.append(
            models.Prefetch(
                query=sparse, using=SPARSE, filter=query_filter, limit=request.candidates
            )
        )
    pool = request.candidates * len(candidates)
    scores = [
        models.Prefetch(prefetch=candidates, query=dense, using=DENSE, limit=pool),
        models.Prefetch(prefetch=candidates, query=[dense], using=SENTENCES, limit=pool),
    ]
    if sparse is not None:
        scores.append(models.Prefetch(prefetch=candidates, query=sparse, using=SPARSE, limit=pool))
    return models.QueryRequest(
        prefetch=scores,
        query=_fusion(request, len(scores)),
        filter=query_filter,
        limit=request.limit,
        score_threshold=request.score_threshold,
        with_payload=RANKED_PAYLOAD,
    )


def _sparse(terms):
    return models.SparseVector(indices=list(terms), values=[1.0] * len(terms))


def _fusion(request, parts):
    """The fused score of the score prefetches: dense, sentences and (if 3 parts) keywords."""
    fusion = request.fusion
    if fusion.method in ("rrf", "dbsf"):
        return models.FusionQuery(fusion=models.Fusion(fusion.method))
    formula = [
        models.MultExpression(mult=[1 - fusion.sentence_weight, "$score[0]"]),
        models.MultExpression(mult=[fusion.sentence_weight, "$score[1]"]),
    ]
    if parts == 3:
        formula.append(
            models.MultExpression(
                mult=[
                    fusion.keyword_weight,
                    models.DivExpression(
                        div=models.DivParams(
                            left="$score[2]",
                            right=models.SumExpression(
                                sum=["$score[2]", fusion.keyword_saturation]
                            ),
                        )
                    ),
                ]
            )
        )
    if request.name_key:
        formula.append(
            models.MultExpression(
                mult=[
                    fusion.name_boost,
                    models.FieldCondition(
                        key="name_key", match=models.MatchValue(value=request.name_key)
                    ),
                ]
            )
        )
    return models.FormulaQuery(
        formula=models.SumExpression(sum=formula),
        defaults={f"$score[{i}]": 0.0 for i in range(parts)},
    )


def _filter(cities=(), terms=None):
    """Points in any of ``cities`` (if given) containing any of ``terms`` (if given); the terms
    as one "should" condition each, as in store_edge."""
    must = (
        [models.FieldCondition(key="city", match=models.MatchAny(any=list(cities)))]
        if cities
        else []
    )
    should = None
    if terms is not None:
        should = [
            models.FieldCondition(key="terms", match=models.MatchValue(value=term))
            for term in terms
        ]
        if not should:  # no term: nothing matches
            must.append(models.FieldCondition(key="terms", match=models.MatchAny(any=[])))
    return models.Filter(must=must or None, should=should or None) if must or should else None


def cluster_options():
    """How a new collection is spread over a Qdrant cluster: the settings given, else the
    server's defaults. Local mode accepts and ignores them."""
    options = {
        "shard_number": search_setting("SHARD_NUMBER"),
        "replication_factor": search_setting("REPLICATION_FACTOR"),
        "write_consistency_factor": search_setting("WRITE_CONSISTENCY_FACTOR"),
    }
    return {name: value for name, value in options.items() if value is not None}


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
