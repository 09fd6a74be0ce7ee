"""Writes through the API reach the search index: created, changed and deleted companies are
found, found by their new text, and gone. Transactions really commit here, so the index task
queued with on_commit runs in this process, with the real model and a real embedded store."""

import pytest

from companies.models import Company, IndexStatus

pytestmark = pytest.mark.django_db(transaction=True)

OLD_TEXT = "Underwater basket weaving lessons for scuba divers."
NEW_TEXT = "Quantum computing cloud platform for chemistry simulations."


def search_ids(client, query):
    response = client.get("/api/search/", {"q": query, "mode": "semantic"})
    assert response.status_code == 200
    return [hit["id"] for hit in response.json()["results"]]


def write(client, token, method, url, body=None):
    return getattr(client, method)(
        url, body, content_type="application/json", headers={"Authorization": f"Token {token}"}
    )


@pytest.fixture
def neighbour(search_store, client, editor_token):
    """Another company in the index, so searches have something else to find."""
    body = {
        "name": "Harbor Dive Shop",
        "link": "https://harbor.example",
        "description": "Scuba diving courses and gear rental.",
    }
    return write(client, editor_token, "post", "/api/companies/", body).json()["id"]


def test_a_created_company_is_indexed_and_found(client, editor_token, neighbour):
    response = write(
        client,
        editor_token,
        "post",
        "/api/companies/",
        {"name": "Zephyr Labs", "link": "https://zephyr.example", "description": NEW_TEXT},
    )
    assert response.status_code == 201
    company = Company.objects.get(pk=response.json()["id"])
    assert company.index_status == IndexStatus.INDEXED
    assert client.get(f"/api/companies/{company.pk}/").json()["index_status"] == "indexed"
    assert search_ids(client, "quantum chemistry in the cloud")[0] == company.pk


def test_an_updated_company_is_found_by_its_new_text_only(client, editor_token, neighbour):
    created = write(
        client,
        editor_token,
        "post",
        "/api/companies/",
        {"name": "Zephyr Labs", "link": "https://zephyr.example", "description": OLD_TEXT},
    ).json()
    assert search_ids(client, "basket weaving classes")[0] == created["id"]

    response = write(
        client, editor_token, "patch", f"/api/companies/{created['id']}/", {"description": NEW_TEXT}
    )
    assert response.status_code == 200
    assert search_ids(client, "quantum chemistry in the cloud")[0] == created["id"]
    keyword_hits = client.get("/api/search/", {"q": "basket weaving", "mode": "keyword"}).json()
    assert created["id"] not in [hit["id"] for hit in keyword_hits["results"]]


def test_a_deleted_company_leaves_the_index(client, editor_token, neighbour, search_store):
    created = write(
        client,
        editor_token,
        "post",
        "/api/companies/",
        {"name": "Zephyr Labs", "link": "https://zephyr.example", "description": NEW_TEXT},
    ).json()
    assert search_store.count() == 2

    response = write(client, editor_token, "delete", f"/api/companies/{created['id']}/")
    assert response.status_code == 204
    assert search_store.count() == 1
    assert created["id"] not in search_ids(client, "quantum chemistry in the cloud")
