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
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from .conf import search_setting
from .plan import (
    DENSE,
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    SENTENCES,
    SPARSE,
    AllOf,
    Formula,
    HasTerm,
    MatchTerm,
    Nearest,
    RankFusion,
    required_conditions,
)
from .storage import search_params, vector_storage
from .store import CompanyStore, StoreUnavailable, in_use_message

logger = logging.getLogger(__name__)
# Answers that mean the server cannot serve now: not found (no collection: the index is
# missing), too many requests, and its own failures.
UNAVAILABLE_STATUS = {404, 429}


class QdrantServerStore(CompanyStore):
    def __init__(self, client, alias, *, embedded, storage=None):
        self.client = client
        self.storage = storage or vector_storage()
        self.alias = alias
        self.next_alias = f"{alias}_next"
        self.embedded = embedded
        # Local mode is not thread-safe; the server client is.
        self._lock = threading.RLock() if embedded else _NoLock()

    @classmethod
    def for_server(cls, url, *, api_key, timeout, alias):
        client = QdrantClient(
            url=url, api_key=api_key or None, timeout=timeout, check_compatibility=False
        )
        return cls(client, alias, embedded=False)

    @classmethod
    def for_local_path(cls, path, *, alias, storage=None):
        try:
            client = (
                QdrantClient(location=":memory:")
                if path == ":memory:"
                else QdrantClient(path=str(path))
            )
        except RuntimeError as exc:
            raise StoreUnavailable(in_use_message(path)) from exc
        return cls(client, alias, embedded=True, storage=storage)

    def is_unavailable(self, exc):
        """Unreachable, timed out, or answering that it cannot serve (5xx, a missing index)."""
        if isinstance(exc, UnexpectedResponse):
            return (
                exc.status_code is None
                or exc.status_code >= 500
                or (exc.status_code in UNAVAILABLE_STATUS)
            )
        if self.embedded and isinstance(exc, ValueError):
            return "not found" in str(exc)  # local mode: the collection is missing
        return isinstance(exc, (ResponseHandlingException, httpx.TransportError, OSError))

    # Generations: collections behind two aliases -------------------------------------------

    def _generations(self):
        aliases = {a.alias_name: a.collection_name for a in self.client.get_aliases().aliases}
        return aliases.get(self.alias), aliases.get(self.next_alias)

    def _set_generations(self, live, next_):
        operations = []
        for alias, wanted, current in zip(
            (self.alias, self.next_alias), (live, next_), self._generations(), strict=True
        ):
            if wanted == current:
                continue
            if current:
                operations.append(
                    models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias))
                )
            if wanted:
                operations.append(
                    models.CreateAliasOperation(
                        create_alias=models.CreateAlias(collection_name=wanted, alias_name=alias)
                    )
                )
        if operations:
            self.client.update_collection_aliases(change_aliases_operations=operations)

    def _generation_metadata(self, name):
        return self.client.get_collection(name).config.metadata or {}

    def _create_generation(self, metadata):
        name = f"{self.alias}_{datetime.now(UTC):%Y%m%d%H%M%S%f}"
        size, on_disk = metadata["dimension"], self.storage.on_disk
        datatype = models.Datatype.FLOAT16 if self.storage.half_precision else None
        self.client.create_collection(
            name,
            vectors_config={
                DENSE: models.VectorParams(
                    size=size,
                    distance=models.Distance.COSINE,
                    on_disk=on_disk,
                    datatype=datatype,
                    quantization_config=_quantization(self.storage),
                ),
                # Only ever used to rescore candidates: no HNSW graph, no int8 copy needed.
                SENTENCES: models.VectorParams(
                    size=size,
                    distance=models.Distance.COSINE,
                    on_disk=on_disk,
                    datatype=datatype,
                    multivector_config=models.MultiVectorConfig(
                        comparator=models.MultiVectorComparator.MAX_SIM
                    ),
                    hnsw_config=models.HnswConfigDiff(m=0),
                ),
            },
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            optimizers_config=models.OptimizersConfigDiff(
                indexing_threshold=self.storage.indexing_threshold_kb
            ),
            metadata=metadata,
            **cluster_options(),
        )
        self._index_payload_fields(name)
        logger.info("Created collection %s: %s", name, metadata)
        return name

    def _release_generation(self, name, *, delete):
        if delete:
            self.client.delete_collection(name)

    def _index_payload_fields(self, name):
        if self.embedded:  # local mode has no payload indexes (and warns)
            return
        present = set(self.client.get_collection(name).payload_schema or {})
        for fields, schema in (
            (KEYWORD_FIELDS, models.PayloadSchemaType.KEYWORD),
            (
                INTEGER_FIELDS,
                models.IntegerIndexParams(
                    type=models.IntegerIndexType.INTEGER, lookup=True, range=False
                ),
            ),
        ):
            for field in fields:
                if field not in present:
                    self.client.create_payload_index(name, field, schema)

    def _handle(self, name, *, live=False):
        # The live index by its alias, so a write lands in whichever collection is live then.
        return self.alias if live else name

    # Points and queries: the plan in qdrant-client's terms ----------------------------------

    def _upsert(self, handle, points):
        self.client.upsert(
            handle,
            points=[
                models.PointStruct(
                    id=p.id,
                    vector={DENSE: p.dense, SENTENCES: p.sentences, SPARSE: _sparse(p.sparse)},
                    payload=p.payload,
                )
                for p in points
            ],
        )

    def _delete(self, handle, ids):
        self.client.delete(handle, points_selector=models.PointIdsList(points=ids))

    def _scroll(self, handle, offset, limit, *, with_vector=None):
        return self.client.scroll(
            handle,
            limit=limit,
            offset=offset,
            with_payload=["hash"],
            with_vectors=[with_vector] if with_vector else False,
        )

    def _retrieve(self, handle, ids, *, with_payload, with_vector):
        return self.client.retrieve(
            handle,
            ids=ids,
            with_payload=with_payload,
            with_vectors=[with_vector] if with_vector else False,
        )

    def _query_batch(self, handle, plans):
        # Local mode searches exactly, and warns that search parameters have no effect there.
        storage = None if self.embedded else self.storage
        responses = self.client.query_batch_points(
            handle, requests=[_query(plan, storage) for plan in plans]
        )
        return [response.points for response in responses]

    def _count(self, handle, plan):
        return self.client.count(handle, count_filter=_filter(plan.filter), exact=True).count

    def _facet(self, handle, plan):
        response = self.client.facet(
            handle, key=plan.key, facet_filter=_filter(plan.filter), limit=plan.limit, exact=True
        )
        return {hit.value: hit.count for hit in response.hits}

    def close(self):
        self.client.close()


def _quantization(storage):
    if not storage.quantized:
        return None
    return models.ScalarQuantization(
        scalar=models.ScalarQuantizationConfig(
            type=models.ScalarType.INT8, quantile=0.99, always_ram=True
        )
    )


def _params(query, storage):
    params = storage and search_params(query, storage)
    if params is None:
        return None
    quantization = params.quantization and models.QuantizationSearchParams(
        **dict(params.quantization)
    )
    return models.SearchParams(
        hnsw_ef=params.hnsw_ef, exact=params.exact, quantization=quantization
    )


def _query(plan, storage):
    return models.QueryRequest(
        **_search(plan, storage),
        score_threshold=plan.score_threshold,
        with_payload=list(plan.with_payload),
    )


def _search(node, storage):
    """What a ``QueryPlan`` and a ``Prefetch`` both say: a query over prefetches, filtered."""
    query, using = _score(node.query)
    return {
        "prefetch": [models.Prefetch(**_search(p, storage)) for p in node.prefetches] or None,
        "query": query,
        "using": using,
        "filter": _filter(node.filter),
        "params": _params(node.query, storage),
        "limit": node.limit,
    }


def _score(query):
    """``(query, using)`` for qdrant-client."""
    if isinstance(query, Nearest):
        vector = _sparse(query.vector) if query.using == SPARSE else query.vector
        return vector, query.using
    if isinstance(query, RankFusion):
        return models.FusionQuery(fusion=models.Fusion(query.method)), None
    if isinstance(query, Formula):
        return (
            models.FormulaQuery(
                formula=models.SumExpression(sum=[_term(term) for term in query.terms]),
                defaults={f"$score[{i}]": 0.0 for i in range(query.parts)},
            ),
            None,
        )
    raise TypeError(f"Not a query: {query!r}")


def _term(term):
    if isinstance(term, MatchTerm):
        value = models.FieldCondition(key=term.key, match=models.MatchValue(value=term.value))
    else:
        value = f"$score[{term.index}]"
        if term.saturation is not None:
            value = models.DivExpression(
                div=models.DivParams(
                    left=value, right=models.SumExpression(sum=[value, term.saturation])
                )
            )
    return models.MultExpression(mult=[term.weight, value])


def _sparse(vector):
    indices, values = vector
    return models.SparseVector(indices=list(indices), values=list(values))


def _filter(plan_filter):
    """A plan's ``Filter`` for qdrant-client (a requirement's alternatives as "should"
    conditions, as on Edge)."""
    if not plan_filter:
        return None
    must = []
    if plan_filter.cities:
        must.append(
            models.FieldCondition(key="city", match=models.MatchAny(any=list(plan_filter.cities)))
        )
    if plan_filter.required is not None:
        must.extend(map(_condition, required_conditions(plan_filter.required)))
    must_not = (
        [models.HasIdCondition(has_id=list(plan_filter.exclude_ids))]
        if plan_filter.exclude_ids
        else None
    )
    return models.Filter(must=must or None, must_not=must_not)


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


def _condition(condition):
    """A ``plan.required_conditions`` condition as qdrant-client's."""
    if isinstance(condition, HasTerm):
        return models.FieldCondition(key="terms", match=models.MatchValue(value=condition.term))
    if isinstance(condition, AllOf):
        return models.Filter(must=[_condition(part) for part in condition.conditions])
    if not condition.conditions:  # no alternative: nothing matches
        return models.FieldCondition(key="terms", match=models.MatchAny(any=[]))
    return models.Filter(should=[_condition(part) for part in condition.conditions])
