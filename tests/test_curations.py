"""Editors' curations and synonyms applied to searches, over the real demo data and index.

Pinned companies come first in the editors' order and count as matches; hidden ones are out of
the results, the count and the facets; the result invariants of every search still hold (a
facet's count is what selecting it shows, pages concatenate to one ranking).
"""

import pytest

from companies.models import Company, SynonymGroup
from companies.search import ranking
from companies.search.fallback import search_database
from companies.search.params import MODES
from companies.search.ranking import search_companies
from tests.factories import curate

pytestmark = pytest.mark.django_db

QUERY = "social network"


def company(name):
    return Company.objects.get(name=name)


def every_hit(query, mode, cities=(), search=None, limit=100):
    """All hits page after page, and the set of counts the pages gave."""
    search = search or (lambda **kw: search_companies(query, mode=mode, **kw))
    hits, counts, offset = [], set(), 0
    while True:
        page = search(cities=cities, limit=limit, offset=offset)
        hits += page.hits
        counts.add(page.count)
        offset += limit
        if offset >= page.count:
            return hits, counts, page


def ids(hits):
    return [hit.company.pk for hit in hits]


@pytest.fixture
def far_away(demo_companies):
    """A company that no search for QUERY finds by itself, in a city of its own choosing."""
    before = set(ids(every_hit(QUERY, "hybrid")[0])) | set(ids(every_hit(QUERY, "keyword")[0]))
    return Company.objects.exclude(pk__in=before).exclude(city="").order_by("pk").first()


@pytest.mark.parametrize("mode", MODES)
def test_pinned_companies_come_first_in_order_and_hidden_ones_are_gone(
    demo_companies, far_away, mode
):
    before, _, _ = every_hit(QUERY, mode)
    first, second = before[1].company, before[0].company
    hidden = before[2].company
    curate(QUERY, pinned=[far_away.pk, first.pk, second.pk], hidden=[hidden.pk])

    after, counts, page = every_hit(QUERY, mode)
    assert ids(after)[:3] == [far_away.pk, first.pk, second.pk]
    assert [hit.pinned for hit in after[:4]] == [True, True, True, False]
    assert hidden.pk not in ids(after)
    # Pinned ones count as matches (the far-away one is new), the hidden one is out.
    assert counts == {len(before) + 1 - 1} == {len(after)}
    assert len(set(ids(after))) == len(after)
    assert ids(after)[3:] == [
        pk for pk in ids(before) if pk not in {first.pk, second.pk, hidden.pk}
    ]
    assert sum(facet.count for facet in page.facets) == len(after)


@pytest.mark.parametrize("mode", MODES)
def test_a_curated_query_keeps_facets_and_pages_consistent(demo_companies, far_away, mode):
    before, _, _ = every_hit(QUERY, mode)
    curate(QUERY, pinned=[far_away.pk, before[3].company.pk], hidden=[before[0].company.pk])
    everything, counts, results = every_hit(QUERY, mode)
    assert counts == {len(everything)}
    for facet in results.facets[:5]:
        chosen, counts, _ = every_hit(QUERY, mode, cities=[facet.value])
        assert counts == {facet.count} == {len(chosen)}
        assert ids(chosen) == [
            hit.company.pk for hit in everything if hit.company.city == facet.value
        ]
    for limit in (3, 7):
        paged, _, _ = every_hit(QUERY, mode, limit=limit)
        assert ids(paged) == ids(everything)


@pytest.mark.parametrize("mode", MODES)
def test_a_pinned_company_outside_the_city_filter_is_not_shown(demo_companies, far_away, mode):
    curate(QUERY, pinned=[far_away.pk])
    other = (
        Company.objects.exclude(city=far_away.city)
        .exclude(city="")
        .values_list("city", flat=True)[0]
    )
    filtered = search_companies(QUERY, mode=mode, cities=[other], limit=100)
    assert far_away.pk not in ids(filtered.hits)
    assert all(hit.company.city == other for hit in filtered.hits)
    own_city = search_companies(QUERY, mode=mode, cities=[far_away.city], limit=100)
    assert ids(own_city.hits)[0] == far_away.pk and own_city.hits[0].pinned


def test_the_query_matches_whatever_its_case_spacing_and_punctuation(demo_companies, far_away):
    curate("Parking-App!", pinned=[far_away.pk])
    for typed in ("parking app", "  PARKING   app ", "parking, app?"):
        assert search_companies(typed, limit=1).hits[0].company.pk == far_away.pk


def test_a_change_applies_to_the_next_search(demo_companies, far_away):
    assert far_away.pk not in ids(search_companies(QUERY, limit=100).hits)
    curation = curate(QUERY, pinned=[far_away.pk])
    assert search_companies(QUERY, limit=1).hits[0].company.pk == far_away.pk
    curation.pins.all().delete()
    curation.hidden.set([far_away.pk])
    assert far_away.pk not in ids(search_companies(QUERY, limit=100).hits)
    curation.delete()
    assert far_away.pk not in ids(search_companies(QUERY, limit=100).hits)


def test_unsearchable_pinned_companies_stay_out(demo_companies, far_away):
    Company.objects.filter(pk=far_away.pk).update(searchable=False)
    curate(QUERY, pinned=[far_away.pk])
    assert far_away.pk not in ids(search_companies(QUERY, limit=100).hits)


def test_a_query_of_stopwords_shows_what_is_pinned(demo_companies, far_away):
    curate("the", pinned=[far_away.pk])
    results = search_companies("The", mode="keyword")
    assert ids(results.hits) == [far_away.pk] and results.count == 1


def test_counts_beyond_the_listed_keyword_matches_stay_exact(demo_companies, far_away, monkeypatch):
    """With more keyword matches than one ranking lists, the index counts the rest; a curation
    still moves the count by its pinned and hidden companies, facets included."""
    monkeypatch.setattr(ranking, "MAX_MATCHES", 5)
    plain = search_companies("software", mode="keyword", limit=5)
    assert plain.count > 5
    listed = ids(plain.hits)
    curate("software", pinned=[far_away.pk, listed[4]], hidden=[listed[0]])
    curated = search_companies("software", mode="keyword", limit=5)
    assert curated.count == plain.count + 1 - 1
    assert ids(curated.hits)[:2] == [far_away.pk, listed[4]]
    assert listed[0] not in ids(curated.hits)
    assert sum(f.count for f in curated.facets) == curated.count
    in_city = search_companies("software", mode="keyword", cities=[far_away.city], limit=5)
    assert ids(in_city.hits)[0] == far_away.pk
    assert in_city.count == next(f.count for f in curated.facets if f.value == far_away.city)


def test_pages_beyond_the_listed_keyword_matches_are_those_of_the_whole_ranking(
    demo_companies, far_away, monkeypatch
):
    """Past the listed keyword matches a page reads rows only up to itself; it is still the
    page of the whole ranking: companies the index has but the database hides are skipped
    (however many come first), pinned ones lead with their own scores, hidden ones are gone."""
    everything = search_companies("software", mode="keyword", limit=100).hits
    assert len(everything) > 24
    monkeypatch.setattr(ranking, "MAX_MATCHES", 24)
    listed = everything[:24]
    # Left in the index (no signal), out of the database's searchable companies.
    lagging = [hit.company.pk for hit in listed[:7]] + [listed[12].company.pk]
    Company.objects.filter(pk__in=lagging).update(searchable=False)
    pinned = listed[20]
    curate("software", pinned=[far_away.pk, pinned.company.pk], hidden=[listed[9].company.pk])
    # One page holding them all reads every row: the whole ranking (its order among equal
    # scores is the index's, so it is the reference, not the list above).
    expected = ids(search_companies("software", mode="keyword", limit=24).hits)
    assert expected[:2] == [far_away.pk, pinned.company.pk]
    assert not {*lagging, listed[9].company.pk} & set(expected)
    assert len(expected) == 24 - len(lagging) - 1 - 1 + 2
    for limit in (1, 3):
        pages = [
            search_companies("software", mode="keyword", limit=limit, offset=offset)
            for offset in range(0, len(expected), limit)
        ]
        assert [pk for page in pages for pk in ids(page.hits)] == expected
    first = search_companies("software", mode="keyword", limit=2).hits
    assert first[1].score == pinned.score and first[0].pinned and first[1].pinned


def test_the_database_fallback_applies_curations(demo_companies, far_away):
    plain = search_database(QUERY, limit=100)
    hidden = plain.hits[0].company.pk
    curate(QUERY, pinned=[far_away.pk], hidden=[hidden])
    everything, counts, results = every_hit(
        QUERY, None, search=lambda **kw: search_database(QUERY, **kw), limit=4
    )
    assert ids(everything)[0] == far_away.pk and everything[0].pinned
    assert hidden not in ids(everything)
    assert counts == {plain.count} == {len(everything)}
    assert len(set(ids(everything))) == len(everything)
    assert sum(f.count for f in results.facets) == len(everything)


# Synonyms --------------------------------------------------------------------------------------


def test_synonyms_widen_keyword_search_at_once(demo_companies):
    before = set(ids(every_hit("vc", "keyword")[0]))
    venture = set(ids(every_hit("venture capital", "keyword")[0]))
    assert venture - before
    SynonymGroup.objects.create(terms="VC, venture capital")
    after = set(ids(every_hit("vc", "keyword")[0]))
    assert after == before | venture
    # Either way round.
    reverse = set(ids(every_hit("venture capital", "keyword")[0]))
    assert before <= reverse
    SynonymGroup.objects.all().delete()
    assert set(ids(every_hit("vc", "keyword")[0])) == before


def test_synonyms_apply_to_hybrid_but_not_to_meaning_alone(demo_companies):
    fund = company("Pritzker Group Venture Capital").pk
    semantic = ids(search_companies("vc", mode="semantic", limit=100).hits)
    hybrid = search_companies("vc", mode="hybrid", limit=100)
    assert fund not in ids(hybrid.hits)
    SynonymGroup.objects.create(terms="vc, venture capital")
    assert ids(search_companies("vc", mode="semantic", limit=100).hits) == semantic
    widened = {hit.company.pk: hit for hit in search_companies("vc", mode="hybrid", limit=100).hits}
    assert fund in widened and "<mark>Venture</mark>" in widened[fund].highlight
    # Companies that share a synonym's words score higher; the others keep their score.
    for hit in hybrid.hits:
        assert widened[hit.company.pk].score >= hit.score


def test_a_synonym_must_be_a_whole_word(demo_companies):
    SynonymGroup.objects.create(terms="vc, venture capital")
    from companies.search.synonyms import expanded

    assert expanded("best vc funds") == "best vc funds venture capital"
    assert expanded("vcs and more") == "vcs and more"
    assert expanded("Venture-Capital firms") == "Venture-Capital firms vc"


# On the pages and in the API -------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_the_api_marks_pinned_results(client, demo_companies, far_away, mode):
    curate(QUERY, pinned=[far_away.pk])
    body = client.get("/api/search/", {"q": "Social  NETWORK", "mode": mode}).json()
    assert body["results"][0]["id"] == far_away.pk and body["results"][0]["pinned"] is True
    assert not any(result["pinned"] for result in body["results"][1:])


def test_the_page_labels_pinned_results_featured(client, demo_companies, far_away):
    curate(QUERY, pinned=[far_away.pk])
    html = client.get("/search/", {"q": QUERY}).content.decode()
    first_card = html[
        html.index('<li class="card') : html.index("</li>", html.index('<li class="card'))
    ]
    assert far_away.name in first_card and ">Featured</span>" in first_card
    assert html.count(">Featured</span>") == 1


def test_synonyms_change_the_api_keyword_results(client, demo_companies):
    def found():
        body = client.get("/api/search/", {"q": "VC", "mode": "keyword", "limit": 100}).json()
        return body["count"], {result["name"] for result in body["results"]}

    count, names = found()
    assert "Pritzker Group Venture Capital" not in names
    SynonymGroup.objects.create(terms="vc, venture capital")
    widened_count, widened = found()
    assert "Pritzker Group Venture Capital" in widened
    assert names < widened and widened_count == len(widened) > count
