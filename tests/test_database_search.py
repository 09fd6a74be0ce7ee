"""The database search: the pages' fallback while the index is unavailable (no index involved)."""

import pytest

from companies.search.query import DATABASE_MODE, InvalidSearch, search_database
from tests.factories import make_company

pytestmark = pytest.mark.django_db


def names(results):
    return [hit.company.name for hit in results.hits]


def test_database_search_ranks_by_how_many_query_words_a_company_contains():
    make_company("Both Words", description="Solar panels for farms.")
    make_company("Farmhand", description="Hiring for harvests.", city="London")
    make_company("Sunny", description="Installs solar roofs.")
    make_company("Unrelated", description="Scuba lessons.")

    results = search_database("solar farming", limit=10)
    assert results.mode == DATABASE_MODE and results.count == 3
    # Both words first; then one word, in the name before in the description.
    assert names(results) == ["Both Words", "Farmhand", "Sunny"]
    assert results.hits[0].score == 1.0 and results.hits[1].score == 0.5
    assert "<mark>Solar</mark>" in results.hits[0].highlight
    assert {(f.value, f.count) for f in results.facets} == {("Chicago", 2), ("London", 1)}

    in_london = search_database("solar farming", cities=["LONDON"])
    assert names(in_london) == ["Farmhand"] and in_london.cities == ("london",)
    assert names(search_database("solar farming", limit=1, offset=1)) == ["Farmhand"]
    assert search_database("the of and").count == 0
    with pytest.raises(InvalidSearch):
        search_database("   ")
