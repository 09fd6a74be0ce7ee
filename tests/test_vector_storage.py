"""How vectors are stored (QDRANT_QUANTIZATION, QDRANT_VECTORS_ON_DISK, QDRANT_VECTOR_DATATYPE,
QDRANT_HNSW_EF): the
settings reach the creation of every index on both engines, each engine's searches read it so
(int8 copy searched, float vectors rescoring), and an index stored that way answers as one of
float vectors in memory does. A rebuild moves an existing index from one storage to the other.

qdrant-client runs in its local mode: it records and accepts the configuration (a server applies
it); Qdrant Edge applies it, which its shard's own config file and its answers show.
"""

import json
from dataclasses import replace

import pytest
from qdrant_client import models

from companies.models import text_key
from companies.search import embedding, keywords, store_edge, store_qdrant
from companies.search.indexing import index_metadata
from companies.search.plan import DENSE, INTEGER_FIELDS, KEYWORD_FIELDS, SENTENCES, rank_plan
from companies.search.ranking import ranking_requests
from companies.search.storage import VectorStorage, vector_storage
from companies.search.store_edge import EdgeStore
from companies.search.store_qdrant import QdrantServerStore
from tests.helpers import RecordingClient, search_settings

pytestmark = pytest.mark.django_db

FLOAT_IN_MEMORY = VectorStorage(quantization="none", on_disk=False, datatype="float32")
# A threshold of 1 KiB builds the graph and the int8 copy even for the demo's few points.
INT8_ON_DISK = VectorStorage(
    quantization="int8", on_disk=True, datatype="float32", indexing_threshold_kb=1
)
HALF_ON_DISK = replace(INT8_ON_DISK, datatype="float16")
ENGINES = {
    "edge": lambda path, storage: EdgeStore(path, name="companies", storage=storage),
    "qdrant-client": lambda path, storage: QdrantServerStore.for_local_path(
        path, alias="companies", storage=storage
    ),
}
QUERIES = ("reserve parking from my phone", "sell my old couch", "rewards for customers")


def filled(engine, path, storage, points):
    store = ENGINES[engine](path, storage)
    store.ensure_index(index_metadata())
    store.upsert(points)
    store.optimize()
    return store


def rankings(store, exact=False):
    """Top 10 ids per query, mode and city filter."""
    found = {}
    for query in QUERIES:
        dense = embedding.embed_query(query)
        for mode in ("hybrid", "semantic"):
            terms = keywords.query_terms(query) if mode == "hybrid" else None
            request = ranking_requests(query, dense, terms)[0]
            for cities in ((), (text_key("London"),)):
                ranked = store.rank(replace(request, cities=cities, exact=exact))
                found[(query, mode, cities)] = [point.id for point in ranked[:10]]
    return found


def test_the_settings_make_the_storage(settings):
    settings.COMPANY_SEARCH = search_settings(
        QUANTIZATION="none",
        VECTORS_ON_DISK=False,
        HNSW_EF=64,
        QUANTIZATION_OVERSAMPLING=3.0,
        VECTOR_DATATYPE="float16",
    )
    assert vector_storage() == VectorStorage("none", False, 64, 3.0, "float16")


def test_the_default_storage_is_int8_over_half_precision_vectors_on_disk():
    # The settings' defaults are checked apart from the environment in test_production_settings.
    assert VectorStorage() == VectorStorage("int8", True, None, 4.0, "float16")


@pytest.mark.parametrize("engine", list(ENGINES))
def test_an_index_keeps_its_precision_when_the_default_changes(tmp_path, demo_points, engine):
    """An index made at float32 (the former default) keeps working, at float32, under a
    float16 default: the precision is the index's own until ``search_index --rebuild``."""
    points = demo_points[0]
    store = filled(engine, tmp_path, INT8_ON_DISK, points[:-1])
    expected_before = rankings(store)
    store.close()
    store = ENGINES[engine](tmp_path, replace(INT8_ON_DISK, datatype="float16"))
    try:
        store.ensure_index(index_metadata())
        assert rankings(store) == expected_before
        store.upsert(points[-1:])  # a write under the new default
        store.optimize()
        if engine == "edge":
            config = json.loads((tmp_path / store.live_target() / "edge_config.json").read_text())
            datatype = config["vectors"][DENSE].get("datatype", "float32")
        else:
            vectors = store.client.get_collection(store.live_target()).config.params.vectors
            datatype = vectors[DENSE].datatype or "float32"
        assert str(getattr(datatype, "value", datatype)).lower() == "float32"
        assert points[-1].id in {p.id for p in store.rank(_nearest(points[-1].dense))}
    finally:
        store.close()


def _nearest(dense):
    from companies.search.plan import RankRequest

    return RankRequest(dense=dense, limit=5, candidates=5)


@pytest.mark.parametrize("engine", list(ENGINES))
def test_an_int8_on_disk_index_answers_as_the_float_one_in_memory(tmp_path, demo_points, engine):
    reference = filled(engine, tmp_path / "float", FLOAT_IN_MEMORY, demo_points[0])
    compact = filled(engine, tmp_path / "int8", INT8_ON_DISK, demo_points[0])
    try:
        if engine == "edge":  # the graph and the int8 copy were built: they answered below
            assert compact._live().info().indexed_vectors_count > 0
        expected = rankings(reference, exact=True)
        assert rankings(compact) == expected
        assert rankings(compact, exact=True) == expected
    finally:
        reference.close()
        compact.close()


def test_an_opening_shard_reads_ahead_what_it_loads_and_not_the_vectors(tmp_path, demo_points):
    store = filled("edge", tmp_path, INT8_ON_DISK, demo_points[0])
    expected = rankings(store)
    shard = tmp_path / store.live_target()
    store.close()
    files = {path: path.stat().st_size for path in shard.rglob("*") if path.is_file()}
    loaded = {
        path: size
        for path, size in files.items()
        if any(part in str(path.relative_to(shard)) for part in store_edge.LOADED_AT_OPENING)
    }
    assert any(path.name == "quantized.data" for path in loaded)  # the int8 copy
    assert not any("vector_storage-sentences" in str(path) for path in loaded)
    assert store_edge.read_ahead(shard) == sum(loaded.values())
    reopened = EdgeStore(tmp_path, name="companies", storage=INT8_ON_DISK)
    try:
        assert rankings(reopened) == expected
    finally:
        reopened.close()


@pytest.mark.parametrize("engine", list(ENGINES))
def test_half_precision_vectors_answer_as_float_ones(tmp_path, demo_points, engine):
    reference = filled(engine, tmp_path / "float", FLOAT_IN_MEMORY, demo_points[0])
    half = filled(engine, tmp_path / "half", HALF_ON_DISK, demo_points[0])
    try:
        expected, got = rankings(reference, exact=True), rankings(half)
        # Cosines a few ten-thousandths off may swap two companies scored alike, no more.
        for key, ids in expected.items():
            assert len(got[key]) == len(ids) and len(set(got[key]) ^ set(ids)) <= 2, key
            assert got[key][:3] == ids[:3], key
    finally:
        reference.close()
        half.close()


@pytest.mark.parametrize("quantization", ["int8", "none"])
@pytest.mark.parametrize("on_disk", [True, False])
@pytest.mark.parametrize("datatype", ["float32", "float16"])
def test_edge_creates_each_shard_as_the_settings_say(
    settings, tmp_path, quantization, on_disk, datatype
):
    settings.COMPANY_SEARCH = search_settings(
        QUANTIZATION=quantization, VECTORS_ON_DISK=on_disk, VECTOR_DATATYPE=datatype
    )
    store = EdgeStore(tmp_path, name="companies")
    try:
        store.ensure_index(index_metadata())
        shards = [store.live_target(), store.begin_rebuild({**index_metadata(), "recipe": -1})]
    finally:
        store.close()
    for shard in shards:
        vectors = json.loads((tmp_path / shard / "edge_config.json").read_text())["vectors"]
        memory = "cold" if on_disk else "cached"
        assert vectors[DENSE]["memory"] == vectors[SENTENCES]["memory"] == memory
        if quantization == "int8":
            assert vectors[DENSE]["quantization_config"]["scalar"]["type"] == "int8"
            assert vectors[DENSE]["quantization_config"]["scalar"]["memory"] == "pinned"
        else:
            assert "quantization_config" not in vectors[DENSE]
        assert "quantization_config" not in vectors[SENTENCES]  # only ever rescores
        assert vectors[DENSE].get("datatype", "float32") == datatype
        assert vectors[SENTENCES].get("datatype", "float32") == datatype


@pytest.mark.parametrize("quantization", ["int8", "none"])
@pytest.mark.parametrize("on_disk", [True, False])
@pytest.mark.parametrize("datatype", ["float32", "float16"])
def test_qdrant_client_creates_each_collection_as_the_settings_say(
    settings, quantization, on_disk, datatype
):
    settings.COMPANY_SEARCH = search_settings(
        QUANTIZATION=quantization, VECTORS_ON_DISK=on_disk, VECTOR_DATATYPE=datatype
    )
    client = RecordingClient(location=":memory:")
    store = QdrantServerStore(client, "companies", embedded=True)
    try:
        store.ensure_index(index_metadata())
        store.begin_rebuild({**index_metadata(), "recipe": -1})
        live = client.get_collection(store.live_target()).config.params.vectors
    finally:
        store.close()
    assert len(client.created) == 2  # the live collection and a rebuild's
    for kwargs in client.created:
        dense, sentences = kwargs["vectors_config"][DENSE], kwargs["vectors_config"][SENTENCES]
        assert dense.on_disk is sentences.on_disk is on_disk
        if quantization == "int8":
            scalar = dense.quantization_config.scalar
            assert (scalar.type, scalar.always_ram) == (models.ScalarType.INT8, True)
        else:
            assert dense.quantization_config is None
        assert sentences.quantization_config is None
        half = models.Datatype.FLOAT16 if datatype == "float16" else None
        assert dense.datatype == sentences.datatype == half
    assert live[DENSE].on_disk is on_disk  # as the collection reports itself


def test_both_engines_index_keyword_terms_for_lookup_only(tmp_path):
    """Terms are only matched by value: no range index, which an opening store would rebuild
    in memory (most of the opening time at scale, docs/performance.md)."""
    store = EdgeStore(tmp_path, name="companies")
    try:
        store.ensure_index(index_metadata())
        schema = store._handle(store.live_target()).info().payload_schema
    finally:
        store.close()
    assert set(schema) == set(KEYWORD_FIELDS + INTEGER_FIELDS)
    for field in INTEGER_FIELDS:
        assert (schema[field].params.lookup, schema[field].params.range) == (True, False)

    client = RecordingClient(location=":memory:")
    store = QdrantServerStore(client, "companies", embedded=False)  # as with a server
    try:
        store.ensure_index(index_metadata())
    finally:
        store.close()
    assert set(client.indexed) == set(KEYWORD_FIELDS + INTEGER_FIELDS)
    for field in INTEGER_FIELDS:
        assert (client.indexed[field].lookup, client.indexed[field].range) == (True, False)


@pytest.mark.parametrize("engine", list(ENGINES))
def test_a_rebuild_moves_an_index_to_the_storage_now_set(tmp_path, demo_points, engine):
    old = filled(engine, tmp_path / "store", FLOAT_IN_MEMORY, demo_points[0])
    before = rankings(old)
    old.close()
    store = ENGINES[engine](tmp_path / "store", INT8_ON_DISK)
    try:
        store.begin_rebuild(index_metadata())
        store.upsert(demo_points[0], only_next=True)
        assert rankings(store) == before  # the old generation serves meanwhile
        store.optimize(next_index=True)
        store.finish_rebuild()
        if engine == "edge":
            live = tmp_path / "store" / store.live_target() / "edge_config.json"
            assert "quantization_config" in json.loads(live.read_text())["vectors"][DENSE]
        assert rankings(store) == before
    finally:
        store.close()


def test_a_server_is_asked_to_rescore_int8_candidates_and_exact_search_skips_them():
    storage = VectorStorage(quantization="int8", on_disk=True, hnsw_ef=256, oversampling=3.0)
    request = ranking_requests("parking", [0.1] * 384, (1, 2))[0]
    for exact in (False, True):
        query = store_qdrant._query(rank_plan(replace(request, exact=exact)), storage)
        candidates = query.prefetch[0].prefetch  # by meaning, then by keywords
        by_meaning, by_keywords = candidates[0].params, candidates[1].params
        assert by_keywords is None  # no graph, no int8 copy for keywords
        if exact:
            assert by_meaning.exact and by_meaning.quantization.ignore
        else:
            assert (by_meaning.exact, by_meaning.hnsw_ef) == (False, 256)
            assert by_meaning.quantization.rescore and by_meaning.quantization.oversampling == 3.0
