"""The database search: the pages' fallback while the index is unavailable (no index involved)."""

import pytest

from companies.search.query import DATABASE_MODE, InvalidSearch, search_database
from tests.factories import curate, make_company

pytestmark = pytest.mark.django_db


def names(results):
    return [hit.company.name for hit in results.hits]


def related(results):
    return [hit.company.name for hit in results.related]


def test_database_search_matches_companies_holding_every_word_as_keyword_mode_does():
    make_company("Both Words", description="Solar panels for farms.")
    make_company("Farm Solar", description="Solar power for farmers.", tags="farming, solar")
    make_company("Farmhand", description="Hiring for harvests.", city="London")
    make_company("Sunny", description="Installs solar roofs.")
    make_company("Unrelated", description="Scuba lessons.")

    results = search_database("solar farming", limit=10)
    assert results.mode == DATABASE_MODE and results.count == 2
    # Both words, in the name and markets first; then, apart, those holding only one.
    assert names(results) == ["Farm Solar", "Both Words"]
    assert related(results) == ["Farmhand", "Sunny"]
    assert results.hits[0].score == 1.0 and related(results) and results.related[0].score == 0.5
    assert "<mark>Solar</mark>" in results.hits[1].highlight
    assert {(f.value, f.count) for f in results.facets} == {("Chicago", 2)}

    in_london = search_database("solar farming", cities=["LONDON"])
    assert in_london.count == 0 and not in_london.hits and in_london.cities == ("london",)
    assert related(in_london) == ["Farmhand"]
    # Looser ones only follow on the page where the matches end, even one they fill exactly.
    assert related(search_database("solar farming", limit=1)) == []
    second = search_database("solar farming", limit=1, offset=1)
    assert names(second) == ["Both Words"] and related(second) == ["Farmhand"]
    exactly = search_database("solar farming", limit=2)
    assert names(exactly) == ["Farm Solar", "Both Words"]
    assert related(exactly) == ["Farmhand", "Sunny"]
    past_the_last = search_database("solar farming", limit=2, offset=2)
    assert names(past_the_last) == [] and related(past_the_last) == []
    # One word: every company holding it is a match.
    assert search_database("solar").count == 3 and not search_database("solar").related
    assert search_database("the of and").count == 0
    with pytest.raises(InvalidSearch):
        search_database("   ")


def test_a_stopword_or_a_repeated_word_asks_nothing_more_of_the_database_search():
    make_company("Sunny", description="Installs solar roofs.")
    make_company("Roofers", description="Roofs repaired.")
    plain = search_database("solar roofs")
    assert names(plain) == ["Sunny"]
    for query in ("the solar roofs of", "solar roofs roofs", "Solar, ROOFS!"):
        results = search_database(query)
        assert (names(results), related(results)) == (names(plain), related(plain)), query


def test_a_synonym_meets_the_word_it_stands_for_in_the_database_search():
    from companies.models import SynonymGroup

    make_company("Seedfund", description="Venture capital for climate investors.")
    make_company("Angels", description="Angel investors club.")
    make_company("Capital Co", description="Working capital for investors.")
    assert search_database("vc investors").count == 0
    SynonymGroup.objects.create(terms="vc, venture capital")
    results = search_database("vc investors")
    # A phrase is met by all its words: "capital" alone is not "venture capital".
    assert names(results) == ["Seedfund"] and set(related(results)) == {"Angels", "Capital Co"}


def test_a_synonym_of_stopwords_neither_meets_nor_drops_the_words_typed_in_the_database():
    from companies.models import SynonymGroup

    make_company("Techies", description="Information technology consulting.")
    make_company("Bankers", description="Consulting for banks.")
    SynonymGroup.objects.create(terms="it, information technology")
    assert names(search_database("information technology consulting")) == ["Techies"]
    # Typed as the stopword, those words ask nothing: the rest of the query alone counts.
    assert set(names(search_database("it consulting"))) == {"Techies", "Bankers"}


def test_curated_companies_stay_out_of_the_looser_ones():
    pinned = make_company("Pinned", description="Solar roofs.")
    hidden = make_company("Hidden", description="Solar kits.")
    make_company("Sunny", description="Solar panels.")
    make_company("Farmer", description="Farming tools.")
    curate("solar farming", pinned=[pinned.pk], hidden=[hidden.pk])
    results = search_database("solar farming")
    assert names(results) == ["Pinned"] and results.count == 1
    assert set(related(results)) == {"Sunny", "Farmer"}


def test_a_long_query_asks_for_its_first_words_only():
    words = [f"word{n}" for n in range(30)]
    make_company("All", description=" ".join(words))
    make_company("First ten", description=" ".join(words[:10]))
    results = search_database(" ".join(words))
    assert set(names(results)) == {"All", "First ten"}
    assert all(hit.score == 1.0 for hit in results.hits)
