"""/api/companies/: listing and reading, over the demo companies."""

import pytest
from rest_framework.authtoken.models import Token

from companies.models import Company

pytestmark = pytest.mark.django_db

URL = "/api/companies/"


def detail_url(company):
    return f"{URL}{company.pk}/"


def test_list_pages_through_every_company(client, demo_companies):
    first = client.get(URL, {"limit": 100}).json()
    assert first["count"] == 259 and len(first["results"]) == 100 and first["previous"] is None
    second = client.get(first["next"]).json()
    assert second["results"][0]["id"] != first["results"][-1]["id"]
    ids = [c["id"] for c in first["results"] + second["results"]]
    assert len(set(ids)) == 200
    assert client.get(URL).json()["results"][0] == first["results"][0]  # default limit 20
    assert len(client.get(URL).json()["results"]) == 20


def test_list_filters_by_city_ignoring_case(client, demo_companies):
    london = client.get(URL, {"city": "LONDON", "limit": 100}).json()
    assert london["count"] == 7 and {c["city"] for c in london["results"]} == {"London"}
    both = client.get(f"{URL}?city=london&city=Londo&limit=100").json()
    assert both["count"] == 8
    assert client.get(URL, {"city": "Atlantis"}).json()["count"] == 0


@pytest.mark.parametrize(
    "ordering", ["name", "-name", "city", "-city", "created_at", "-updated_at"]
)
def test_list_orders_by_the_field_asked_for(client, demo_companies, ordering):
    results = client.get(URL, {"ordering": ordering, "offset": 100, "limit": 50}).json()["results"]
    # In the database's collation, ties broken by id.
    expected = Company.objects.order_by(ordering, "id").values_list("id", flat=True)[100:150]
    assert [c["id"] for c in results] == list(expected)


def test_list_default_order_is_by_name(client, demo_companies):
    results = client.get(URL, {"limit": 100}).json()["results"]
    expected = Company.objects.order_by("name", "id").values_list("id", flat=True)[:100]
    assert [c["id"] for c in results] == list(expected)
    assert results != client.get(URL, {"limit": 100, "ordering": "-name"}).json()["results"]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"ordering": "description"}, "ordering"),
        ({"ordering": "id; drop table"}, "ordering"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "all"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"city": "x" * 101}, "city"),
    ],
)
def test_list_rejects_bad_parameters_with_a_message(client, params, field):
    response = client.get(URL, params)
    assert response.status_code == 400
    assert field in response.json()


def test_list_beyond_the_last_page_is_empty(client, demo_companies):
    body = client.get(URL, {"offset": 10**20}).json()
    assert body["count"] == 259 and body["results"] == []


def test_read_one_company(client, demo_companies):
    spothero = Company.objects.get(name="SpotHero")
    body = client.get(detail_url(spothero)).json()
    assert body["name"] == "SpotHero" and body["slug"] == spothero.slug
    assert body["link"] == spothero.link and body["index_status"] == "indexed"
    assert set(body) == {
        "id",
        "name",
        "slug",
        "description",
        "city",
        "link",
        "image_url",
        "tags",
        "searchable",
        "version",
        "created_at",
        "updated_at",
        "index_status",
        "indexed_at",
    }


@pytest.mark.parametrize("path", ["999999/", "abc/", "1" * 19 + "/"])
def test_reading_a_missing_company_is_a_json_404(client, path):
    response = client.get(URL + path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"]


def test_a_user_without_permissions_can_still_read(client, django_user_model, demo_companies):
    user = django_user_model.objects.create_user("reader")
    assert not user.get_all_permissions()
    token = Token.objects.create(user=user).key
    headers = {"Authorization": f"Token {token}"}
    assert client.get(URL, headers=headers).status_code == 200
    assert client.get("/api/search/", {"q": "parking"}, headers=headers).status_code == 200
