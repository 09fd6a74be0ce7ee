"""The query-embedding cache: bounded, safe under threads, and invisible in the results."""

import random
import threading

import numpy as np
import pytest

from companies.search import embedding
from companies.search.lru import LRUCache
from companies.search.query import search_companies


def test_the_least_recently_used_entry_goes_first():
    cache = LRUCache(3)
    for key in "abc":
        cache.get_or_compute(key, lambda key=key: key.upper())
    assert cache.get_or_compute("a", lambda: "recomputed") == "A"  # a is now the most recent
    cache.get_or_compute("d", lambda: "D")
    assert len(cache) == 3
    assert cache.get_or_compute("b", lambda: "recomputed") == "recomputed"  # b was evicted
    assert cache.get_or_compute("a", lambda: "recomputed") == "A"


def test_a_size_of_zero_stores_nothing():
    cache = LRUCache(0)
    assert cache.get_or_compute("a", lambda: 1) == 1
    assert cache.get_or_compute("a", lambda: 2) == 2
    assert len(cache) == 0


def test_racing_threads_get_right_values_and_the_bound_holds():
    cache = LRUCache(16)
    errors, barrier = [], threading.Barrier(8)

    def work(seed):
        rng = random.Random(seed)
        barrier.wait()
        for _ in range(3000):
            key = rng.randrange(64)
            value = cache.get_or_compute(key, lambda key=key: key * key)
            if value != key * key:
                errors.append((key, value))
            if len(cache) > 16:
                errors.append(("size", len(cache)))

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(cache) <= 16
    assert cache.hits and cache.misses


@pytest.fixture
def query_cache(settings):
    settings.COMPANY_SEARCH = {**settings.COMPANY_SEARCH, "QUERY_EMBEDDING_CACHE_SIZE": 2}
    embedding._query_vectors.clear()
    yield embedding._query_vectors
    embedding._query_vectors.clear()


def test_case_and_spacing_share_an_entry_with_the_models_own_vector(query_cache):
    fresh = next(iter(embedding.get_model().query_embed(["Payments for  SMALL shops"])))
    first = embedding.embed_query("Payments for  SMALL shops")
    again = embedding.embed_query("payments for small shops ")
    assert np.array_equal(np.asarray(first, dtype=np.float32), fresh)
    assert again == first
    assert (query_cache.misses, query_cache.hits) == (1, 1)


def test_the_cache_keeps_at_most_its_size(query_cache):
    for text in ("one", "two", "three", "one"):
        embedding.embed_query(text)
    assert len(query_cache) == 2
    assert query_cache.misses == 4  # "one" was evicted by "three"


@pytest.mark.django_db
def test_a_cached_search_answers_as_a_fresh_one(demo_companies, query_cache):
    cold = search_companies("parking from my phone", mode="hybrid")
    warm = search_companies("Parking  from my PHONE", mode="hybrid")
    assert query_cache.hits == 1
    assert cold.count == warm.count > 0
    assert [(h.company.pk, h.score) for h in cold.hits] == [
        (h.company.pk, h.score) for h in warm.hits
    ]
    assert cold.facets == warm.facets
