"""Search over the real demo data with the real model and a real embedded Qdrant store."""

import pytest

from companies.search.query import InvalidSearch, search_companies

pytestmark = pytest.mark.django_db


def names(results):
    return [hit.company.name for hit in results.hits]


@pytest.mark.parametrize(
    "query, expected_first",
    [
        ("reserve parking from my phone", {"SpotHero", "ParkWhiz"}),
        ("crowdfunding for medical bills", {"GiveForward"}),
        ("get cheap flight deals by email", {"NowBoarding ✈️"}),
    ],
)
def test_meaning_ranks_the_right_company_first(demo_companies, query, expected_first):
    results = search_companies(query, limit=5)
    assert names(results)[0] in expected_first


def test_both_parking_apps_lead_a_parking_query(demo_companies):
    top = names(search_companies("find a spot for my car downtown", limit=3))
    assert {"SpotHero", "ParkWhiz"} <= set(top)


def test_scores_are_descending_and_count_covers_the_page(demo_companies):
    results = search_companies("online fashion shopping", limit=10)
    scores = [hit.score for hit in results.hits]
    assert scores == sorted(scores, reverse=True)
    assert results.count >= len(results.hits) == 10


def test_city_filter_returns_only_that_city(demo_companies):
    results = search_companies("software", cities=["london"], limit=50)
    assert results.hits, "London has companies about software"
    assert {hit.company.city for hit in results.hits} == {"London"}
    assert results.count == len(results.hits)


def test_city_filter_is_applied_inside_the_search_not_after_the_limit(demo_companies):
    # For this query no London company is in the unfiltered top 10; a filter applied after the
    # top 10 were taken would find nothing.
    unfiltered = search_companies("online banking and payments", limit=10)
    assert "London" not in {hit.company.city for hit in unfiltered.hits}
    filtered = search_companies("online banking and payments", cities=["London"], limit=10)
    assert filtered.hits and {hit.company.city for hit in filtered.hits} == {"London"}


def test_consecutive_pages_neither_repeat_nor_skip(demo_companies):
    whole = names(search_companies("data analytics", limit=30))
    pages = [names(search_companies("data analytics", limit=10, offset=o)) for o in (0, 10, 20)]
    assert sum(pages, []) == whole
    assert len(set(whole)) == len(whole) == 30


def test_count_is_stable_across_pages(demo_companies):
    counts = {search_companies("mobile app", limit=10, offset=o).count for o in (0, 10, 20)}
    assert len(counts) == 1


def test_unknown_city_finds_nothing(demo_companies):
    results = search_companies("parking", cities=["Atlantis"])
    assert results.count == 0 and results.hits == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"query": "   "}, "Enter something"),
        ({"query": "x" * 1000}, "too long"),
        ({"query": "parking", "limit": 0}, "limit"),
        ({"query": "parking", "limit": 101}, "limit"),
        ({"query": "parking", "offset": -1}, "offset"),
        ({"query": "parking", "mode": "nonsense"}, "Unknown mode"),
        ({"query": "parking", "mode": "hybrid"}, "not available yet"),
    ],
)
def test_invalid_parameters_are_refused_with_a_reason(kwargs, message):
    query = kwargs.pop("query")
    with pytest.raises(InvalidSearch, match=message):
        search_companies(query, **kwargs)
