"""Both store engines behind the one interface: Qdrant Edge (the embedded default) and
qdrant-client (the server code path, run here in its local mode). Same points in, same answers
out, so the server path is covered on machines without a Qdrant server."""

from dataclasses import replace

import pytest

from companies.models import text_key
from companies.search import embedding, keywords
from companies.search.indexing import index_metadata
from companies.search.ranking import ranking_requests
from companies.search.store import (
    PointNotIndexed,
    RankRequest,
    StoreIncompatible,
    StoreUnavailable,
)
from companies.search.store_edge import EdgeStore
from companies.search.store_qdrant import QdrantServerStore
from tests.helpers import search_settings

pytestmark = pytest.mark.django_db

ENGINES = {
    "edge": lambda path: EdgeStore(path, name="companies"),
    "qdrant-client": lambda path: QdrantServerStore.for_local_path(path, alias="companies"),
}


@pytest.fixture(params=list(ENGINES))
def store(request, tmp_path, demo_points):
    store = ENGINES[request.param](tmp_path / "store")
    store.ensure_index(index_metadata())
    store.upsert(demo_points[0])
    yield store
    store.close()


def ranked_names(store, names, query, mode="hybrid", cities=()):
    dense = embedding.embed_query(query) if mode != "keyword" else None
    terms = keywords.query_terms(query) if mode != "semantic" else None
    request = replace(ranking_requests(query, dense, terms)[0], cities=cities)
    ranked = store.rank(request)
    return [names[point.id] for point in ranked]


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
def test_both_engines_rank_the_same(tmp_path, demo_points, mode):
    points, names = demo_points
    rankings = []
    for label, open_engine in ENGINES.items():
        store = open_engine(tmp_path / label)
        store.ensure_index(index_metadata())
        store.upsert(points)
        rankings.append(ranked_names(store, names, "reserve parking from my phone", mode)[:10])
        store.close()
    assert rankings[0] == rankings[1]
    assert rankings[0][0] in {"SpotHero", "ParkWhiz"}


def test_filters_facets_counts_and_payloads(store, demo_points):
    _, names = demo_points
    london = ranked_names(store, names, "rewards for customers", cities=(text_key("London"),))
    assert london and all(
        name
        in {
            "Yella",
            "BCKSTGR MEDIA",
            "SaferCodes",
            "Human Practice",
            "Silvrspoon",
            "Demibooks",
            "Be Good Today",
            "PhilterIt",
        }
        for name in london
    )
    required = keywords.required_terms([("restaurants",)])
    counts = store.city_counts(required=required)
    assert counts["Chicago"] == store.count(cities=("chicago",), required=required) > 0
    assert store.count() == 259
    payload = next(iter(store.payloads([min(names)]).values()))
    assert set(payload) >= {"city", "city_name", "name_key", "hash", "terms"}


def test_required_words_filter_the_points_whose_terms_meet_them(store, demo_points):
    """Each requirement is met by one of its alternatives, an alternative by all its terms: the
    same points by ranking, count and facets, as the stored terms say, on both engines."""
    points, _ = demo_points
    required = keywords.required_terms([("software",), ("app", "online platform")])
    assert [len(alternatives) for alternatives in required] == [1, 2]
    stored = {
        pk: set(payload["terms"]) for pk, payload in store.payloads(p.id for p in points).items()
    }
    expected = {
        pk
        for pk, terms in stored.items()
        if all(any(set(option) <= terms for option in options) for options in required)
    }
    only_software = {pk for pk, terms in stored.items() if required[0][0][0] in terms}
    assert 1 < len(expected) < len(only_software)
    terms = tuple(sorted({term for options in required for option in options for term in option}))
    ranked = store.rank(RankRequest(terms=terms, required=required, limit=259))
    assert {point.id for point in ranked} == expected
    assert store.count(required=required) == len(expected)
    assert sum(store.city_counts(required=required).values()) == len(expected)
    assert store.count(required=()) == 0


def test_recommend_excludes_the_point_itself(store, demo_points):
    _, names = demo_points
    spothero = next(pk for pk, name in names.items() if name == "SpotHero")
    similar = [names[p.id] for p in store.recommend(spothero, limit=3)]
    assert "SpotHero" not in similar and similar[0] == "ParkWhiz"
    with pytest.raises(PointNotIndexed):
        store.recommend(10**9, limit=3)


def test_company_vectors_read_every_point_across_pages(store, demo_points):
    points, _ = demo_points
    rows = store.company_vectors(page=100)  # three pages
    assert sorted(pk for pk, _, _ in rows) == sorted(p.id for p in points)
    by_id = {p.id: p for p in points}
    for pk, text_hash, vector in rows:
        assert text_hash == by_id[pk].payload["hash"]
        # Stored at half precision by default: within a float16 step of what was written.
        assert vector == pytest.approx(by_id[pk].dense, abs=1e-4)


def test_nearest_batch_is_recommend_for_several_vectors(store, demo_points):
    points, names = demo_points
    spothero = next(p for p in points if names[p.id] == "SpotHero")
    queries = [(spothero.dense, spothero.id), (points[0].dense, points[0].id)]
    nearest = store.nearest_batch(queries, limit=3)
    assert [pk for pk, _ in nearest[0]] == [p.id for p in store.recommend(spothero.id, limit=3)]
    assert names[nearest[0][0][0]] == "ParkWhiz" and nearest[0][0][1] > nearest[0][2][1]
    assert points[0].id not in [pk for pk, _ in nearest[1]]
    assert store.nearest_batch([], limit=3) == []


def test_delete_and_point_hashes(store, demo_points):
    points, _ = demo_points
    hashes = store.point_hashes()
    assert len(hashes) == 259 and hashes[points[0].id] == points[0].payload["hash"]
    store.delete([points[0].id])
    assert points[0].id not in store.point_hashes() and store.count() == 258


def test_a_rebuild_fills_a_next_generation_written_alongside_then_swaps(store, demo_points):
    points, names = demo_points
    metadata = index_metadata()
    target = store.begin_rebuild(metadata)
    assert store.rebuild_target() == target and store.point_hashes(next_index=True) == {}
    assert store.begin_rebuild(metadata) == target  # resuming, not starting over
    store.upsert(points[:100], only_next=True)
    store.upsert(points[100:101])  # a write during the rebuild reaches both generations
    store.delete([points[0].id])
    assert len(store.point_hashes(next_index=True)) == 100
    assert store.count() == 258  # searches still see the live generation

    store.finish_rebuild()
    assert store.rebuild_target() is None
    assert store.count() == 100 and points[0].id not in store.point_hashes()
    assert store.metadata() == metadata


def test_an_index_built_differently_is_refused(store):
    changed = {**index_metadata(), "recipe": -1}
    with pytest.raises(StoreIncompatible, match="search_index --rebuild"):
        store.ensure_index(changed)


def test_drop_removes_every_generation(store):
    store.begin_rebuild(index_metadata())
    store.drop()
    assert store.metadata() is None and store.rebuild_target() is None


def test_the_embedded_engine_admits_one_owner(tmp_path):
    first = EdgeStore(tmp_path, name="companies")
    try:
        with pytest.raises(StoreUnavailable, match="open in another process"):
            EdgeStore(tmp_path, name="companies")
    finally:
        first.close()
    EdgeStore(tmp_path, name="companies").close()  # free again once closed


def test_a_keyword_only_request_ranks_by_bm25(store, demo_points):
    _, names = demo_points
    ranked = store.rank(RankRequest(terms=keywords.query_terms("parking garages"), limit=5))
    assert names[ranked[0].id] in {"SpotHero", "ParkWhiz"}
    assert [p.score for p in ranked] == sorted((p.score for p in ranked), reverse=True)


def test_no_rebuild_means_no_next_index_hashes_on_every_engine(store):
    assert store.rebuild_target() is None
    assert store.point_hashes(next_index=True) == {}
    store.optimize(next_index=True)  # nothing to optimize, nothing raised


def test_a_request_the_engine_refuses_is_a_bug_not_an_outage(store):
    with pytest.raises(Exception) as raised:
        store.rank(RankRequest(dense=[0.5, 0.5, 0.5], limit=3))  # not the index's dimension
    assert not isinstance(raised.value, StoreUnavailable)


def test_an_unreachable_server_is_unavailable():
    server = QdrantServerStore.for_server(
        "http://127.0.0.1:9", api_key="", timeout=2, alias="companies"
    )
    try:
        with pytest.raises(StoreUnavailable, match="unavailable"):
            server.count()
    finally:
        server.close()


def test_a_misspelt_embedded_engine_stops_the_start(settings):
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    from companies.search.engines import get_store

    settings.COMPANY_SEARCH = search_settings(EMBEDDED_ENGINE="egde")
    with pytest.raises(SystemCheckError, match="EMBEDDED_ENGINE is 'egde'"):
        call_command("check")
    with pytest.raises(ImproperlyConfigured, match="edge, qdrant-local"):
        get_store()


def test_a_bug_in_the_search_is_a_500_not_the_fallback(demo_companies, client, monkeypatch):
    from companies.search import ranking

    def wrong_dimension(*args, **kwargs):
        return [RankRequest(dense=[0.5, 0.5, 0.5], limit=3)]

    monkeypatch.setattr(ranking, "ranking_requests", wrong_dimension)
    client.raise_request_exception = False
    assert client.get("/", {"q": "parking"}).status_code == 500
    assert client.get("/api/search/", {"q": "parking"}).status_code == 500


def test_an_unreachable_server_is_the_fallback_on_pages_and_503_on_the_api(client, settings):

    settings.COMPANY_SEARCH = search_settings(QDRANT_URL="http://127.0.0.1:9", QDRANT_TIMEOUT=2)
    page = client.get("/", {"q": "parking"})
    assert page.status_code == 200 and "only match the words" in page.content.decode()
    assert client.get("/api/search/", {"q": "parking"}).status_code == 503


def test_every_read_answers_the_same_on_both_engines(tmp_path, demo_points):
    points, names = demo_points
    spothero = next(pk for pk, name in names.items() if name == "SpotHero")
    required = keywords.required_terms([("restaurants", "software"), ("app", "online food")])
    answers = []
    for label, open_engine in ENGINES.items():
        store = open_engine(tmp_path / label)
        try:
            store.ensure_index(index_metadata())
            store.upsert(points)
            store.delete([points[1].id])
            answers.append(
                (
                    store.count(),
                    store.count(cities=("chicago", "london"), required=required),
                    store.count(required=()),
                    store.city_counts(required=required),
                    store.city_counts(cities=("chicago",)),
                    store.payloads([points[0].id, points[1].id, 10**9]),
                    store.point_hashes(),
                    store.point_hashes(next_index=True),
                    [p.id for p in store.recommend(spothero, cities=("chicago",), limit=4)],
                    store.metadata(),
                    store.rebuild_target(),
                )
            )
        finally:
            store.close()
    assert answers[0] == answers[1]
    assert answers[0][0] == 258 and answers[0][2] == 0 and answers[0][7] == {}
