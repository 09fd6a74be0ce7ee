"""The server-rendered pages (no JavaScript involved)."""

import pytest

from companies.models import Company

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
    page1 = client.get("/search/", {"q": "mobile app"}).context
    page2 = client.get("/search/", {"q": "mobile app", "page": 2}).context
    ids1 = [h.company.pk for h in page1["results"].hits]
    ids2 = [h.company.pk for h in page2["results"].hits]
    assert len(ids1) == 10 and ids2 and not set(ids1) & set(ids2)
    assert page1["page"].has_next() and page2["page"].number == 2


def test_city_filter_on_the_page(client, demo_companies):
    context = client.get("/search/", {"q": "restaurants", "city": "london"}).context
    assert {h.company.city for h in context["results"].hits} == {"London"}


def test_empty_state_explains_what_to_do(client, demo_companies):
    response = client.get("/search/", {"q": "parking", "city": "Atlantis"})
    html = response.content.decode()
    assert "Nothing matches" in html and "Search all cities" in html


def test_query_is_escaped(client, demo_companies):
    html = client.get("/search/", {"q": '<script>alert("x")</script>'}).content.decode()
    assert "<script>alert" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize("params", [{"q": "x" * 1000}, {"q": "parking", "page": "abc"},
                                    {"q": "parking", "page": "0"}, {"q": "parking", "page": "99999"}])
def test_bad_input_is_a_400_page_with_a_message(client, params, demo_companies):
    response = client.get("/search/", params)
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()


def test_index_down_is_a_503_page_not_a_crash(client, settings):
    settings.COMPANY_SEARCH = {**settings.COMPANY_SEARCH, "QDRANT_URL": "http://127.0.0.1:9"}
    response = client.get("/search/", {"q": "parking"})
    assert response.status_code == 503
    assert "unavailable" in response.content.decode()


def test_company_page(client, demo_companies):
    company = Company.objects.get(name="SpotHero")
    response = client.get(company.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "SpotHero" in html and "parking" in html and company.link in html
    assert client.get("/companies/no-such-company/").status_code == 404


def test_city_facets_are_links_that_toggle_the_filter(client, demo_companies):
    html = client.get("/search/", {"q": "rewards program", "mode": "keyword"}).content.decode()
    assert 'href="?q=rewards+program&amp;mode=keyword&amp;city=London"' in html
    selected = client.get("/search/", {"q": "rewards program", "mode": "keyword",
                                       "city": "London"})
    html = selected.content.decode()
    assert 'aria-current="true"' in html
    assert 'href="?q=rewards+program&amp;mode=keyword"' in html  # un-select
    assert {h.company.city for h in selected.context["results"].hits} == {"London"}


def test_mode_is_kept_in_the_form_and_the_page_links(client, demo_companies):
    response = client.get("/search/", {"q": "mobile app", "mode": "semantic", "city": "Chicago"})
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
