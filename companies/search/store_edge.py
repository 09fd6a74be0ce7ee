"""The embedded store: Qdrant Edge shards in a folder, owned by one process at a time.

Layout of ``QDRANT_PATH``::

    .lock                    held (flock) by the process that has the store open
    <name>.json              {"live": "<name>_<timestamp>", "next": null or another shard}
    <name>_<timestamp>/      an Edge shard (one generation of the index)

The state file is replaced atomically, so a rebuild switches generations in one rename.
"""

import fcntl
import json
import logging
import os
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path

import qdrant_edge as edge

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
METADATA_FILE = "startup-search.json"


class ShardUnusable(Exception):
    """A shard's files cannot be opened: the folder is damaged or missing."""


class EdgeStore(CompanyStore):
    def __init__(self, path, *, name, storage=None):
        self.path = Path(path)
        self.name = name
        self.storage = storage or vector_storage()
        self._lock = threading.RLock()
        self._shards = {}  # shard folder name -> open EdgeShard
        self._state_cache = None
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._lock_file = open(self.path / ".lock", "a+")  # noqa: SIM115 (held while open)
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._lock_file.close()
            raise StoreUnavailable(in_use_message(self.path)) from exc
        except OSError as exc:
            raise StoreUnavailable(
                f"The search index folder {self.path} is unusable: {exc}"
            ) from exc

    def is_unavailable(self, exc):
        """The folder or a shard's files cannot be used; an engine's other refusals are bugs."""
        return isinstance(exc, (OSError, ShardUnusable))

    # Generations: shard folders named in a state file ---------------------------------------

    def _generations(self):
        # Only the process holding the lock writes the file, so it is read once.
        if self._state_cache is None:
            try:
                self._state_cache = json.loads((self.path / f"{self.name}.json").read_text())
            except FileNotFoundError:
                self._state_cache = {"live": None, "next": None}
        return self._state_cache["live"], self._state_cache["next"]

    def _set_generations(self, live, next_):
        state = {"live": live, "next": next_}
        target = self.path / f"{self.name}.json"
        staging = target.with_suffix(".json.tmp")
        staging.write_text(json.dumps(state))
        os.replace(staging, target)
        self._state_cache = state

    def _generation_metadata(self, name):
        return json.loads((self.path / name / METADATA_FILE).read_text())

    def _create_generation(self, metadata):
        folder = f"{self.name}_{datetime.now(UTC):%Y%m%d%H%M%S%f}"
        size, memory = metadata["dimension"], _memory(self.storage)
        datatype = edge.VectorStorageDatatype.Float16 if self.storage.half_precision else None
        config = edge.EdgeConfig(
            vectors={
                DENSE: edge.EdgeVectorParams(
                    size=size,
                    distance=edge.Distance.Cosine,
                    memory=memory,
                    datatype=datatype,
                    quantization_config=_quantization(self.storage),
                ),
                # Only ever used to rescore candidates: no HNSW graph, no int8 copy needed.
                SENTENCES: edge.EdgeVectorParams(
                    size=size,
                    distance=edge.Distance.Cosine,
                    memory=memory,
                    datatype=datatype,
                    multivector_config=edge.MultiVectorConfig(
                        comparator=edge.MultiVectorComparator.MaxSim
                    ),
                    hnsw_config=edge.HnswIndexConfig(
                        m=0, ef_construct=100, full_scan_threshold=10_000
                    ),
                ),
            },
            sparse_vectors={SPARSE: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)},
            optimizers=edge.EdgeOptimizersConfig(
                indexing_threshold=self.storage.indexing_threshold_kb
            ),
        )
        self._shards[folder] = edge.EdgeShard.create(str(self.path / folder), config)
        self._index_payload_fields(folder)
        (self.path / folder / METADATA_FILE).write_text(json.dumps(metadata))
        logger.info("Created index shard %s: %s", folder, metadata)
        return folder

    def _release_generation(self, name, *, delete):
        shard = self._shards.pop(name, None)
        if shard is not None:
            shard.close()
        if delete:
            shutil.rmtree(self.path / name, ignore_errors=True)

    def _index_payload_fields(self, name):
        shard = self._handle(name)
        present = set(shard.info().payload_schema)
        for fields, schema in (
            (KEYWORD_FIELDS, edge.PayloadSchemaType.Keyword),
            (INTEGER_FIELDS, edge.IntegerIndexParams(lookup=True, range=False)),
        ):
            for field in fields:
                if field not in present:
                    shard.update(edge.UpdateOperation.create_field_index(field, schema))

    def _handle(self, name, *, live=False):
        if name not in self._shards:
            try:
                read_ahead(self.path / name)
                self._shards[name] = edge.EdgeShard.load(str(self.path / name))
            except Exception as exc:  # the bindings raise plain Exception
                raise ShardUnusable(f"index shard {self.path / name}: {exc}") from exc
        return self._shards[name]

    def _flush(self, handle):
        handle.flush()

    def _optimize(self, handle):
        """Build the HNSW graph and payload indexes after bulk writes (bench/store_engines.py
        measures what it buys)."""
        handle.optimize()

    # Points and queries: the plan in Edge's terms -------------------------------------------

    def _upsert(self, handle, points):
        handle.update(
            edge.UpdateOperation.upsert_points(
                [
                    edge.Point(
                        p.id,
                        {DENSE: p.dense, SENTENCES: p.sentences, SPARSE: _sparse(p.sparse)},
                        p.payload,
                    )
                    for p in points
                ]
            )
        )

    def _delete(self, handle, ids):
        handle.update(edge.UpdateOperation.delete_points(ids))

    def _scroll(self, handle, offset, limit, *, with_vector=None):
        return handle.scroll(
            edge.ScrollRequest(
                offset=offset,
                limit=limit,
                with_payload=["hash"],
                with_vector=[with_vector] if with_vector else False,
            )
        )

    def _retrieve(self, handle, ids, *, with_payload, with_vector):
        return handle.retrieve(ids, with_payload, [with_vector] if with_vector else False)

    def _query_batch(self, handle, plans):
        requests = [_query(plan, self.storage) for plan in plans]
        return handle.query_batch(edge.QueryBatchRequest(requests))

    def _count(self, handle, plan):
        return handle.count(edge.CountRequest(exact=True, filter=_filter(plan.filter)))

    def _facet(self, handle, plan):
        response = handle.facet(
            edge.FacetRequest(
                key=plan.key, limit=plan.limit, exact=True, filter=_filter(plan.filter)
            )
        )
        return {hit.value: hit.count for hit in response.hits}

    def close(self):
        with self._lock:
            for name in list(self._shards):
                self._release_generation(name, delete=False)
            self._lock_file.close()  # releases the flock


# The files an opening shard reads whole into memory: the int8 copy of the vectors, the payload
# indexes, the point ids, the graph and the keyword index. The vector and payload files
# themselves stay mapped and are read on demand.
LOADED_AT_OPENING = ("quantized.data", "payload_index", "id_tracker", "vector_index-")


def read_ahead(folder):
    """Read the files an opening shard loads (``LOADED_AT_OPENING``) in large sequential reads
    first. Edge drops them from the page cache once loaded and reads them back, when a shard
    next opens, through memory maps in small pieces (16,000 small disk reads at 300,000
    companies); after this read they come from memory. It cut the opening 2-3x at 100,000-300,000
    companies and made no measurable difference at a million, where the rest of the opening is
    the engine's own work (bench/store_scale.py measures the opening with and without it,
    docs/performance.md). Returns the bytes read."""
    total = 0
    folder = Path(folder)
    for path in sorted(folder.rglob("*")):
        inside = str(path.relative_to(folder))
        if not any(part in inside for part in LOADED_AT_OPENING) or not path.is_file():
            continue
        try:
            with open(path, "rb", buffering=0) as file:
                while chunk := file.read(1 << 22):
                    total += len(chunk)
        except OSError:  # only a head start: the opening itself reports a missing file
            continue
    return total


def read_metadata(path, name):
    """The live shard's metadata from its files, without opening (or locking) the store."""
    try:
        live = json.loads((Path(path) / f"{name}.json").read_text())["live"]
        return json.loads((Path(path) / live / METADATA_FILE).read_text()) if live else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _memory(storage):
    """Where the original float vectors live: mapped from their files on demand, or loaded."""
    return edge.Memory.Cold if storage.on_disk else edge.Memory.Cached


def _quantization(storage):
    if not storage.quantized:
        return None
    return edge.ScalarQuantizationConfig(
        type=edge.ScalarType.Int8, quantile=0.99, memory=edge.Memory.Pinned
    )


def _params(query, storage):
    params = search_params(query, storage)
    if params is None:
        return None
    quantization = params.quantization and edge.QuantizationSearchParams(
        **dict(params.quantization)
    )
    return edge.SearchParams(hnsw_ef=params.hnsw_ef, exact=params.exact, quantization=quantization)


def _query(plan, storage):
    return edge.QueryRequest(
        **_search(plan, storage),
        score_threshold=plan.score_threshold,
        with_payload=list(plan.with_payload),
    )


def _search(node, storage):
    """What a ``QueryPlan`` and a ``Prefetch`` both say: a query over prefetches, filtered."""
    return {
        "limit": node.limit,
        "prefetches": [edge.Prefetch(**_search(p, storage)) for p in node.prefetches] or None,
        "query": _score(node.query),
        "filter": _filter(node.filter),
        "params": _params(node.query, storage),
    }


def _score(query):
    if isinstance(query, Nearest):
        vector = _sparse(query.vector) if query.using == SPARSE else query.vector
        return edge.Query.Nearest(vector, using=query.using)
    if isinstance(query, RankFusion):
        return edge.Fusion.Rrf(k=2) if query.method == "rrf" else edge.Fusion.Dbsf()
    if isinstance(query, Formula):
        return edge.Formula(
            edge.Expression.Sum([_term(term) for term in query.terms]),
            defaults={f"$score[{i}]": 0.0 for i in range(query.parts)},
        )
    raise TypeError(f"Not a query: {query!r}")


def _term(term):
    const = edge.Expression.Constant
    if isinstance(term, MatchTerm):
        value = edge.Expression.Condition(
            edge.FieldCondition(key=term.key, match=edge.MatchValue(term.value))
        )
    else:
        value = edge.Expression.Variable(f"$score[{term.index}]")
        if term.saturation is not None:
            value = edge.Expression.Div(
                value, edge.Expression.Sum([value, const(term.saturation)]), 0.0
            )
    return edge.Expression.Mult([const(term.weight), value])


def _sparse(vector):
    indices, values = vector
    return edge.SparseVector(indices=list(indices), values=list(values))


def _filter(plan_filter):
    """A plan's ``Filter`` for Edge. A requirement's alternatives are "should" conditions, one
    value each: facets and counts over them ran in half the time of one "match any" condition."""
    if not plan_filter:
        return None
    must = []
    if plan_filter.cities:
        must.append(edge.FieldCondition(key="city", match=edge.MatchAny(list(plan_filter.cities))))
    if plan_filter.required is not None:
        must.extend(map(_condition, required_conditions(plan_filter.required)))
    must_not = (
        [edge.HasIdCondition(set(plan_filter.exclude_ids))] if plan_filter.exclude_ids else None
    )
    return edge.Filter(must=must or None, must_not=must_not)


def _condition(condition):
    """A ``plan.required_conditions`` condition as Edge's."""
    if isinstance(condition, HasTerm):
        return edge.FieldCondition(key="terms", match=edge.MatchValue(condition.term))
    if isinstance(condition, AllOf):
        return edge.Filter(must=[_condition(part) for part in condition.conditions])
    if not condition.conditions:  # no alternative: nothing matches
        return edge.FieldCondition(key="terms", match=edge.MatchAny([]))
    return edge.Filter(should=[_condition(part) for part in condition.conditions])
