"""The server-rendered pages (no JavaScript involved)."""

import pytest

from companies.models import Company
from tests.factories import make_company

pytestmark = pytest.mark.django_db


def test_home_page_offers_a_search_box_and_examples(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="q"' in html and "reserve parking from my phone" in html


def test_results_page_shows_cards_with_logo_city_description_and_link(client, demo_companies):
    response = client.get("/search/", {"q": "reserve parking from my phone"})
    assert response.status_code == 200
    html = response.content.decode()
    spothero = Company.objects.get(name="SpotHero")
    assert spothero.get_absolute_url() in html
    assert spothero.image_url in html and spothero.link in html
    assert 'rel="noopener noreferrer nofollow"' in html
    assert html.index("SpotHero") < html.index("Grabio")  # ranked


def test_results_are_paginated_and_page_two_continues_page_one(client, demo_companies):
    page1 = client.get("/search/", {"q": "social network"}).context
    page2 = client.get("/search/", {"q": "social network", "page": 2}).context
    ids1 = [h.company.pk for h in page1["results"].hits]
    ids2 = [h.company.pk for h in page2["results"].hits]
    assert len(ids1) == 10 and ids2 and not set(ids1) & set(ids2)
    assert page1["page"].has_next() and page2["page"].number == 2


def test_city_filter_on_the_page(client, demo_companies):
    context = client.get("/search/", {"q": "restaurants", "city": "london"}).context
    assert {h.company.city for h in context["results"].hits} == {"London"}


def test_empty_state_explains_what_to_do(client, demo_companies):
    response = client.get("/search/", {"q": "SpotHero", "city": "Atlantis"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "No companies match “SpotHero” in Atlantis" in html
    assert 'href="?q=SpotHero">Search all cities</a>' in html
    spothero = Company.objects.get(name="SpotHero")
    assert f'the company <a href="{spothero.get_absolute_url()}">SpotHero</a>' in html
    assert "crowdfunding%20for%20medical%20bills" in html  # example queries to try


def test_a_page_past_the_last_one_says_so(client, demo_companies):
    response = client.get("/search/", {"q": "parking", "mode": "keyword", "page": 50})
    assert response.status_code == 404
    html = response.content.decode()
    assert "page=" in html and "Go to the last page" in html


def test_query_is_escaped(client, demo_companies):
    html = client.get("/search/", {"q": '<script>alert("x")</script>'}).content.decode()
    assert "<script>alert" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize(
    "params",
    [
        {"q": "x" * 1000},
        {"q": "parking", "page": "abc"},
        {"q": "parking", "page": "0"},
        {"q": "parking", "page": "99999"},
    ],
)
def test_bad_input_is_a_400_page_with_a_message(client, params, demo_companies):
    response = client.get("/search/", params)
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_pages_only_answer_reads(client, method):
    for url in ("/", "/search/?q=parking", "/companies/no-such-company/"):
        assert getattr(client, method)(url).status_code == 405


def index_down(settings):
    """Point the site at a Qdrant address where nothing listens."""
    settings.COMPANY_SEARCH = {**settings.COMPANY_SEARCH, "QDRANT_URL": "http://127.0.0.1:9"}


def test_index_down_answers_from_the_database_with_a_notice(client, settings, demo_companies):
    index_down(settings)
    response = client.get("/search/", {"q": "parking garages"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="status"' in html and "only match the words you typed" in html
    results = response.context["results"]
    names = [hit.company.name for hit in results.hits + results.related]
    # Both words (the matches), then, apart, "park" in the name.
    assert names[:2] == ["SpotHero", "ParkWhiz"] and results.count == 1
    texts = [
        (h.company.name + h.company.tags + h.company.description).lower() for h in results.hits
    ]
    assert texts and all("park" in text and "garage" in text for text in texts)
    assert "More loosely related" in html
    assert "company matches “parking garages”" in " ".join(html.split())
    assert "<mark>parking</mark>" in html.lower() or "<mark>Parking</mark>" in html


def test_index_down_still_filters_by_city_and_pages(client, settings, demo_companies):
    index_down(settings)
    london = client.get("/search/", {"q": "app", "city": "london"}).context
    assert london["results"].hits
    assert {h.company.city for h in london["results"].hits} == {"London"}
    assert {f.value: f.selected for f in london["results"].facets}["London"] is True
    first = client.get("/search/", {"q": "social"}).context["results"]
    second = client.get("/search/", {"q": "social", "page": 2}).context["results"]
    assert first.count > 10 and second.hits
    assert not {h.company.pk for h in first.hits} & {h.company.pk for h in second.hits}


def test_a_last_page_the_matches_fill_exactly_still_shows_looser_ones(client, settings):
    index_down(settings)
    for n in range(20):
        make_company(f"Heliostat Barnyard {n:02}", description="Heliostats on barnyards.")
    make_company("Sunroof", description="Heliostat roofs for homes.")
    second = client.get("/search/", {"q": "heliostat barnyard", "page": 2})
    results = second.context["results"]
    assert second.status_code == 200 and results.count == 20 and len(results.hits) == 10
    assert [hit.company.name for hit in results.related] == ["Sunroof"]
    html = second.content.decode()
    assert "More loosely related" in html and "page=3" not in html
    assert client.get("/search/", {"q": "heliostat barnyard", "page": 3}).status_code == 404


def test_index_down_company_page_still_answers(client, settings, demo_companies):
    index_down(settings)
    response = client.get(Company.objects.get(name="SpotHero").get_absolute_url())
    assert response.status_code == 200
    assert "Search is unavailable at the moment" in response.content.decode()


def test_a_hidden_companys_page_is_not_found(client, search_store):
    hidden = make_company("Backroom", description="Not for the public.", searchable=False)
    assert client.get(hidden.get_absolute_url()).status_code == 404
    hidden.searchable = True
    hidden.save()
    assert client.get(hidden.get_absolute_url()).status_code == 200


def test_company_page(client, demo_companies):
    company = Company.objects.get(name="SpotHero")
    response = client.get(company.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>SpotHero (Chicago) – Startup Search</title>" in html
    assert '<meta name="description" content="On-Demand Parking App' in html
    assert f'href="{company.link}" target="_blank" rel="noopener noreferrer nofollow"' in html
    assert "Visit spothero.com" in html
    # The markets, as the data has them, are one keyword search.
    assert (
        'href="/search/?q=mobile%20marketplaces%20transportation%20parking&amp;mode=keyword" '
        'title="Companies in the same markets">mobile marketplaces transportation parking</a>'
    ) in html
    assert client.get("/companies/no-such-company/").status_code == 404


def test_results_page_title_and_description_say_what_was_found(client, demo_companies):
    response = client.get("/search/", {"q": "social network", "page": 2})
    count = response.context["results"].count
    html = response.content.decode()
    assert f"<title>social network (page 2) – {count} companies – Startup Search</title>" in html
    assert f'<meta name="description" content="{count} startups matching “social network”' in html
    assert f"11–20 of <strong>{count}</strong>" in html


def test_links_other_than_http_are_never_rendered(client, search_store):
    company = Company.objects.create(
        name="Sneaky",
        slug="sneaky",
        link="javascript:alert(1)",
        image_url="javascript:alert(2)",
        description="Tricks.",
    )
    html = client.get(company.get_absolute_url()).content.decode()
    assert "javascript:" not in html
    assert 'data-initial="S"' in html  # the logo falls back to the initial


def test_city_facets_are_links_that_toggle_the_filter(client, demo_companies):
    html = client.get("/search/", {"q": "rewards program", "mode": "keyword"}).content.decode()
    assert 'href="?q=rewards+program&amp;mode=keyword&amp;city=London"' in html
    selected = client.get("/search/", {"q": "rewards program", "mode": "keyword", "city": "London"})
    html = selected.content.decode()
    assert 'aria-current="true"' in html
    assert 'href="?q=rewards+program&amp;mode=keyword"' in html  # un-select
    assert "Clear city filter" in html
    assert {h.company.city for h in selected.context["results"].hits} == {"London"}


def test_mode_is_kept_in_the_form_and_the_page_links(client, demo_companies):
    response = client.get(
        "/search/", {"q": "social network", "mode": "semantic", "city": "Chicago"}
    )
    html = response.content.decode()
    assert 'value="semantic" checked' in html
    assert 'name="city" value="Chicago"' in html
    assert "page=2" in html and "mode=semantic" in html.split('rel="next"')[1].split(">")[0]


def test_results_show_highlighted_snippets(client, demo_companies):
    html = client.get("/search/", {"q": "parking garages"}).content.decode()
    assert "<mark>" in html


def test_company_page_lists_similar_companies(client, demo_companies):
    company = Company.objects.get(name="SpotHero")
    response = client.get(company.get_absolute_url())
    similar = [hit.company.name for hit in response.context["similar"]]
    assert similar[0] == "ParkWhiz" and "SpotHero" not in similar
    assert 'id="similar"' in response.content.decode()


def test_pages_load_their_script_and_the_search_box_names_its_endpoints(client):
    html = client.get("/").content.decode()
    assert '<script src="/static/companies/site.js" defer></script>' in html
    assert 'data-suggest-url="/api/suggest/"' in html
    assert 'data-company-url="/companies/__slug__/"' in html
    assert "autofocus" in html
    results = client.get("/search/", {"q": "x" * 1000}).content.decode()
    assert "autofocus" not in results
