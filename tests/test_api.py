"""The JSON API over real search."""

import pytest

from companies.models import Company

pytestmark = pytest.mark.django_db


def test_search_returns_the_documented_shape(client, demo_companies):
    response = client.get("/api/search/", {"q": "reserve parking from my phone", "limit": 3})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "count",
        "next",
        "previous",
        "mode",
        "results",
        "related",
        "understood",
        "suggestion",
        "facets",
    }
    assert body["mode"] == "hybrid"
    assert body["count"] >= 3 and len(body["results"]) == 3
    first = body["results"][0]
    assert set(first) == {
        "id",
        "name",
        "slug",
        "description",
        "city",
        "link",
        "image_url",
        "score",
        "highlight",
        "pinned",
    }
    assert first["pinned"] is False  # no curation for this query
    assert first["name"] in {"SpotHero", "ParkWhiz"}
    assert 0 < first["score"] <= 1
    company = Company.objects.get(pk=first["id"])
    assert (first["slug"], first["link"]) == (company.slug, company.link)


def test_search_pages_with_limit_and_offset(client, demo_companies):
    first = client.get("/api/search/", {"q": "health care", "limit": 5}).json()
    second = client.get("/api/search/", {"q": "health care", "limit": 5, "offset": 5}).json()
    both = client.get("/api/search/", {"q": "health care", "limit": 10}).json()
    assert [r["id"] for r in first["results"] + second["results"]] == [
        r["id"] for r in both["results"]
    ]


def test_search_filters_by_city(client, demo_companies):
    body = client.get("/api/search/", {"q": "rewards", "city": "LONDON"}).json()
    assert body["results"] and {r["city"] for r in body["results"]} == {"London"}


def test_search_facets_list_city_counts(client, demo_companies):
    body = client.get("/api/search/", {"q": "restaurants", "mode": "keyword"}).json()
    facets = body["facets"]["city"]
    assert facets[0] == {"value": "Chicago", "count": facets[0]["count"]}
    assert sum(f["count"] for f in facets) == body["count"]
    assert [f["count"] for f in facets] == sorted((f["count"] for f in facets), reverse=True)


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
def test_every_mode_answers(client, demo_companies, mode):
    body = client.get("/api/search/", {"q": "parking", "mode": mode, "limit": 2}).json()
    assert body["mode"] == mode and body["results"][0]["name"] in {"SpotHero", "ParkWhiz"}


def test_repeated_city_parameters_combine(client, demo_companies):
    body = client.get("/api/search/?q=software&city=London&city=Chicago&limit=100").json()
    assert {r["city"] for r in body["results"]} == {"London", "Chicago"}


def test_highlights_are_escaped_html_with_marks(client, demo_companies):
    result = client.get("/api/search/", {"q": "parking garages", "mode": "keyword"}).json()
    assert "<mark>" in result["results"][0]["highlight"]


def test_similar_companies_endpoint(client, demo_companies):
    spothero = Company.objects.get(name="SpotHero")
    body = client.get(f"/api/companies/{spothero.pk}/similar/", {"limit": 3}).json()
    names = [r["name"] for r in body["results"]]
    assert len(names) == 3 and "SpotHero" not in names and names[0] == "ParkWhiz"
    assert client.get(f"/api/companies/{spothero.pk}/similar/", {"limit": 0}).status_code == 400
    assert client.get("/api/companies/999999/similar/").status_code == 404
    assert client.get("/api/companies/abc/similar/").status_code == 404


def test_similar_for_a_company_not_yet_indexed_is_409(client, demo_companies):
    company = Company.objects.create(name="Fresh Co", link="https://fresh.example")
    Company.objects.filter(pk=company.pk).update(index_status="pending")
    from companies.search.indexing import open_index

    open_index().delete([company.pk])
    response = client.get(f"/api/companies/{company.pk}/similar/")
    assert response.status_code == 409 and "not in the search index" in response.json()["detail"]


def test_suggest_endpoint(client, demo_companies):
    body = client.get("/api/suggest/", {"q": "spot"}).json()
    assert body["results"][0]["name"] == "SpotHero"
    assert set(body["results"][0]) == {"id", "name", "slug"}
    assert client.get("/api/suggest/", {"q": ""}).status_code == 400
    assert client.get("/api/suggest/", {"q": "x" * 101}).status_code == 400


@pytest.mark.parametrize(
    "params, field",
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x" * 1000}, "q"),
        ({"q": "parking", "limit": -1}, "limit"),
        ({"q": "parking", "limit": 10**12}, "limit"),
        ({"q": "parking", "limit": "ten"}, "limit"),
        ({"q": "parking", "offset": -5}, "offset"),
        ({"q": "parking", "mode": "nonsense"}, "mode"),
        ({"q": "parking", "offset": 1000}, "offset"),
        ({"q": "nul\x00byte"}, "q"),
    ],
)
def test_invalid_parameters_answer_400_with_a_message(client, params, field):
    response = client.get("/api/search/", params)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    messages = response.json()[field]
    assert messages and all(isinstance(m, str) and m for m in messages)


def test_search_answers_503_when_the_index_is_down(client, settings):
    settings.COMPANY_SEARCH = {**settings.COMPANY_SEARCH, "QDRANT_URL": "http://127.0.0.1:9"}
    response = client.get("/api/search/", {"q": "parking"})
    assert response.status_code == 503
    assert "unavailable" in response.json()["detail"]


def test_companies_are_readable_but_not_writable_anonymously(client, demo_companies):
    listing = client.get("/api/companies/", {"limit": 5}).json()
    assert listing["count"] == 259 and len(listing["results"]) == 5
    company = Company.objects.get(name="SpotHero")
    detail = client.get(f"/api/companies/{company.pk}/").json()
    assert detail["name"] == "SpotHero" and detail["index_status"] == "indexed"
    assert client.post("/api/companies/", {"name": "X"}).status_code == 401
    assert client.delete(f"/api/companies/{company.pk}/").status_code == 401
    assert client.get("/api/companies/999999/").status_code == 404
