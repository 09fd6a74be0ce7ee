"""Query understanding over the real demo data, model and embedded store: places read as the
city filter, misspelt words corrected, match sets about the query, and the API and pages that
show it."""

import pytest

from companies.cities import merge_cities
from companies.models import Company, text_key
from companies.search import vocabulary
from companies.search.query import MODES, search_companies, suggest_companies
from companies.search.spelling import correct
from companies.search.understanding import understand
from tests.factories import make_company

pytestmark = pytest.mark.django_db

LONDON = {"london", "londo"}  # the demo data spells one London company "Londo"


def names(hits):
    return [hit.company.name for hit in hits]


def every_hit(query, **kwargs):
    """All of a search's matches, page after page of 100, and the count every page gave."""
    hits, counts, offset = [], set(), 0
    while True:
        page = search_companies(query, limit=100, offset=offset, **kwargs)
        hits += page.hits
        counts.add(page.count)
        offset += 100
        if offset >= page.count:
            return hits, counts, page


# Places -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, rest",
    [
        ("fintech in London", "fintech"),
        ("rewards programs based in london", "rewards programs"),
        ("London-based rewards", "rewards"),
        ("storytelling for kids, London", "storytelling for kids"),
        ("restaurants LONDON", "restaurants"),
    ],
)
@pytest.mark.parametrize("mode", MODES)
def test_a_city_in_the_query_becomes_the_filter(demo_companies, query, rest, mode):
    results = search_companies(query, mode=mode, limit=100)
    assert results.understood.query == rest
    assert set(results.understood.cities) == LONDON
    assert results.hits or mode == "keyword", "London has companies about this"
    assert {hit.company.city_key for hit in results.hits} <= LONDON
    assert {facet.value for facet in results.facets} <= {"London", "Londo"}
    assert sum(facet.count for facet in results.facets) == results.count
    assert all(facet.selected for facet in results.facets)


def test_the_best_company_in_the_city_comes_first(demo_companies):
    assert names(search_companies("restaurants in London").hits)[0] == "Silvrspoon"
    assert names(search_companies("QR codes in Lodnon").hits)[0] == "SaferCodes"
    assert names(search_companies("email inbox London").hits)[0] == "PhilterIt"


def test_a_place_alone_lists_its_companies(demo_companies):
    results = search_companies("London startups", limit=100)
    expected = Company.objects.filter(city_key__in=LONDON)
    assert results.understood.query == ""
    assert results.count == expected.count() == 8
    assert sorted(names(results.hits)) == sorted(expected.values_list("name", flat=True))
    pages = [search_companies("startups based in London", limit=3, offset=o) for o in (0, 3, 6)]
    assert sum((names(page.hits) for page in pages), []) == names(results.hits)


@pytest.mark.parametrize("query", ["Chicago Public Schools", "chicago public schools"])
def test_a_name_holding_a_city_is_not_a_place(demo_companies, query):
    results = search_companies(query)
    assert results.understood is None
    assert names(results.hits)[0] == "Chicago Public Schools"


def test_a_misspelt_name_holding_a_city_is_not_a_place_either(demo_companies):
    for mode in MODES:
        results = search_companies("Chciago Public Schools", mode=mode)
        assert not (results.understood and results.understood.cities)
        assert names(results.hits)[0] == "Chicago Public Schools"


def test_an_explicit_city_wins_over_the_query(demo_companies):
    results = search_companies("fintech in London", cities=["Chicago"], limit=100)
    assert not (results.understood and results.understood.cities)
    assert {hit.company.city for hit in results.hits} == {"Chicago"}


def test_understand_false_takes_the_query_as_typed(demo_companies):
    results = search_companies("fintech in London", understand=False, limit=100)
    assert results.understood is None
    assert "Chicago" in {hit.company.city for hit in results.hits}


def test_a_city_the_data_does_not_have_is_left_in_the_query(demo_companies):
    assert search_companies("berlin solar").understood is None


def test_places_follow_the_data(demo_companies, django_capture_on_commit_callbacks):
    """A new city is understood at once; merging a misspelt one moves it everywhere."""
    company = make_company("Kiel Solar Works", city="Kiel", description="Solar panels.")
    try:
        assert understand("solar in kiel", mode="hybrid").cities == ("kiel",)
        with django_capture_on_commit_callbacks(execute=True):  # the index follows on commit
            kept, merged, changed = merge_cities(["london", "londo"])
        assert (kept, merged, changed) == ("London", ["Londo"], 1)
        assert understand("fintech in London", mode="hybrid").cities == ("london",)
        results = search_companies("rewards in London", limit=100)
        assert "BCKSTGR MEDIA" in names(results.hits + results.related)
        assert [(f.value, f.count) for f in results.facets] == [("London", results.count)]
    finally:
        with django_capture_on_commit_callbacks(execute=True):
            company.delete()
            merged_company = Company.objects.get(name="BCKSTGR MEDIA")
            merged_company.city = "Londo"
            merged_company.save(update_fields=["city"])
    assert set(understand("fintech in London", mode="hybrid").cities) == LONDON


# Typos ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, meant",
    [
        ("reserve parrking from my phone", "reserve parking from my phone"),
        ("bticoin", "bitcoin"),
        ("crwodfunding", "crowdfunding"),
        ("Which of our serveers are at risk", "Which of our servers are at risk"),
    ],
)
def test_misspelt_words_are_corrected_against_the_data(demo_companies, typed, meant):
    assert correct(typed, vocabulary.current()).text == meant


@pytest.mark.parametrize(
    "query",
    ["sell my old couch", "tweeting from the stadium", "hire waiters", "workspace for a week"],
)
def test_words_that_are_words_stay_as_typed(demo_companies, query):
    assert correct(query, vocabulary.current()) is None


@pytest.mark.parametrize(
    "typed, company",
    [("spotehro", "SpotHero"), ("Packnack", "Packback"), ("Trunk Clyb", "Trunk Club")],
)
@pytest.mark.parametrize("mode", ["hybrid", "keyword"])
def test_a_name_with_one_typo_finds_the_company_first(demo_companies, typed, company, mode):
    results = search_companies(typed, mode=mode)
    assert names(results.hits)[0] == company
    assert text_key(results.understood.suggestion) == text_key(company)


def test_semantic_mode_does_not_correct(demo_companies):
    results = search_companies("bticoin", mode="semantic")
    assert results.understood is None


def test_name_suggestions_tolerate_one_typo(demo_companies):
    assert [c.name for c in suggest_companies("spoth")][:1] == ["SpotHero"]
    assert "SpotHero" in [c.name for c in suggest_companies("sptoh")]
    assert "Groupon" in [c.name for c in suggest_companies("gruop")]
    assert suggest_companies("xqzw") == []


# Match sets -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["hybrid", "semantic"])
def test_the_match_set_is_what_the_query_is_about(demo_companies, mode):
    hits, counts, _ = every_hit("reserve parking from my phone", mode=mode)
    assert counts == {len(hits)} and len(hits) <= 15
    assert {"SpotHero", "ParkWhiz"} <= set(names(hits))


def test_looser_matches_come_apart_after_the_last_match(demo_companies):
    first = search_companies("reserve parking from my phone", limit=10)
    assert first.count < 10 and len(first.hits) == first.count
    assert first.related and len(first.hits) + len(first.related) == 10
    assert not {hit.company.pk for hit in first.hits} & {hit.company.pk for hit in first.related}
    assert max(hit.score for hit in first.related) <= min(hit.score for hit in first.hits)
    assert search_companies("reserve parking from my phone", limit=10, offset=10).related == []


@pytest.mark.parametrize("mode", MODES)
def test_facets_equal_their_filter_with_understood_queries(demo_companies, mode):
    everything, counts, results = every_hit("restauants software", mode=mode)
    assert counts == {len(everything)}
    for facet in results.facets[:3]:
        chosen, counts, _ = every_hit("restauants software", mode=mode, cities=[facet.value])
        assert counts == {facet.count} and len(chosen) == facet.count


# API and pages ----------------------------------------------------------------------------------


def test_api_says_how_it_understood_the_query(client, demo_companies):
    body = client.get("/api/search/", {"q": "fintech in London"}).json()
    assert body["understood"] == {"query": "fintech", "cities": ["Londo", "London"]}
    assert body["suggestion"] is None
    assert {hit["city"] for hit in body["results"]} <= {"London", "Londo"}
    plain = client.get("/api/search/", {"q": "fintech in London", "understand": "false"}).json()
    assert plain["understood"] is None and plain["count"] != body["count"]


def test_api_suggests_the_corrected_query(client, demo_companies):
    body = client.get("/api/search/", {"q": "bticoin"}).json()
    assert body["suggestion"] == "bitcoin"
    assert body["understood"] == {"query": "bitcoin", "cities": []}
    assert body["results"][0]["name"] in {"BitLendingClub", "Red Leaf Capital", "Providence"}


def test_api_pages_link_to_each_other(client, demo_companies):
    first = client.get("/api/search/", {"q": "software", "mode": "keyword", "limit": 5}).json()
    assert first["previous"] is None and "offset=5" in first["next"]
    second = client.get(first["next"]).json()
    assert "offset" not in second["previous"] and "offset=10" in second["next"]
    assert client.get(second["previous"]).json()["results"] == first["results"]
    last = client.get(
        "/api/search/",
        {"q": "software", "mode": "keyword", "limit": 5, "offset": first["count"] - 1},
    ).json()
    assert last["next"] is None


def test_api_errors_carry_a_code(client, demo_companies):
    missing = client.get("/api/companies/999999/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    unknown = client.get("/api/nowhere/")
    assert unknown.json() == {"detail": "Not found.", "code": "not_found"}


def test_page_shows_the_understood_city_and_the_way_back(client, demo_companies):
    page = client.get("/search/", {"q": "fintech in London"}).content.decode()
    assert "read from your search" in page and "Search all cities instead" in page
    assert "understand=0" in page
    everywhere = client.get("/search/", {"q": "fintech in London", "understand": "0"})
    assert "read from your search" not in everywhere.content.decode()


def test_page_says_did_you_mean(client, demo_companies):
    page = client.get("/search/", {"q": "reserve parrking from my phone"}).content.decode()
    assert "Did you mean" in page and "reserve parking from my phone" in page
    assert "More loosely related" in page
