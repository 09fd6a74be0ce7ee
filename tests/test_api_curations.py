"""/api/curations/: CRUD, validation, permissions, and bad input that never answers 500."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.authtoken.models import Token

from companies.models import Company, Curation, CurationPin

pytestmark = pytest.mark.django_db

URL = "/api/curations/"
ALL = ["view_curation", "add_curation", "change_curation", "delete_curation"]


@pytest.fixture
def companies():
    """Five companies (written without signals: nothing here needs the index)."""
    Company.objects.bulk_create(
        Company(name=f"Company {i}", slug=f"company-{i}", city="Chicago") for i in range(5)
    )
    return list(Company.objects.order_by("pk").values_list("pk", flat=True))


def token_for(django_user_model, username, *codenames):
    user = django_user_model.objects.create_user(username)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return Token.objects.create(user=user).key


@pytest.fixture
def curator(django_user_model):
    return token_for(django_user_model, "curator", *ALL)


def send(client, method, url, body=None, token=None):
    headers = {"Authorization": f"Token {token}"} if token else {}
    if body is None:
        return getattr(client, method)(url, headers=headers)
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return getattr(client, method)(url, data, content_type="application/json", headers=headers)


def snapshot():
    return (
        list(Curation.objects.values_list("pk", "query", "query_key").order_by("pk")),
        list(
            CurationPin.objects.values_list("curation_id", "company_id", "position").order_by("pk")
        ),
        list(
            Curation.hidden.through.objects.values_list("curation_id", "company_id").order_by("pk")
        ),
    )


def test_create_read_update_delete(client, curator, companies):
    a, b, c, d, _ = companies
    created = send(
        client, "post", URL, {"query": "Parking App", "pinned": [b, a], "hidden": [c]}, curator
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["query"] == "Parking App" and body["pinned"] == [b, a] and body["hidden"] == [c]
    url = f"{URL}{body['id']}/"

    assert send(client, "get", url, token=curator).json()["pinned"] == [b, a]
    assert [row["id"] for row in send(client, "get", URL, token=curator).json()["results"]] == [
        body["id"]
    ]

    patched = send(client, "patch", url, {"pinned": [d]}, curator).json()
    assert (
        patched["pinned"] == [d] and patched["hidden"] == [c] and patched["query"] == "Parking App"
    )

    replaced = send(
        client, "put", url, {"query": "parking apps", "pinned": [], "hidden": [a, b]}, curator
    )
    assert replaced.status_code == 200
    assert replaced.json()["pinned"] == [] and replaced.json()["hidden"] == [a, b]
    assert Curation.objects.get().query_key == "parking apps"

    assert send(client, "delete", url, token=curator).status_code == 204
    assert not Curation.objects.exists() and not CurationPin.objects.exists()
    assert send(client, "get", url, token=curator).status_code == 404


def test_a_deleted_company_leaves_the_curation(client, curator, companies):
    a, b, *_ = companies
    created = send(
        client, "post", URL, {"query": "x", "pinned": [a, b], "hidden": []}, curator
    ).json()
    Company.objects.filter(pk=a).delete()
    assert send(client, "get", f"{URL}{created['id']}/", token=curator).json()["pinned"] == [b]


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({"query": "x", "pinned": [999999]}, "pinned", "No company with id 999999."),
        (
            {"query": "x", "hidden": [999998, 999999]},
            "hidden",
            "No company with id 999998, 999999.",
        ),
        ({"query": "x", "pinned": ["FIRST", "FIRST"]}, "pinned", "repeated"),
        ({"query": "x", "pinned": ["FIRST"], "hidden": ["FIRST"]}, "hidden", "pinned and hidden"),
        ({"query": "   "}, "query", "blank"),
        ({"query": "?!…"}, "query", "at least one letter or digit"),
        ({"query": "x" * 1001}, "query", "1000"),
        ({"query": "park\x00ing"}, "query", "Null characters"),
        ({"query": 42}, "query", "string"),
        ({"query": "x", "pinned": "1,2"}, "pinned", "list"),
        ({"query": "x", "pinned": [0]}, "pinned", "greater than or equal to 1"),
        ({"query": "x", "pinned": [2**70]}, "pinned", "less than or equal to"),
        ({"query": "x", "pinned": list(range(1, 60))}, "pinned", "no more than 50"),
        ({"query": "x", "id": 5}, "id", "read-only"),
        ({"query": "x", "pins": [1]}, "pins", "Unknown field"),
        ({"pinned": []}, "query", "required"),
    ],
)
def test_invalid_bodies_are_400_naming_the_field_and_store_nothing(
    client, curator, companies, body, field, message
):
    body = {
        key: [companies[0] if pk == "FIRST" else pk for pk in value]
        if isinstance(value, list)
        else value
        for key, value in body.items()
    }
    before = snapshot()
    response = send(client, "post", URL, body, curator)
    assert response.status_code == 400, response.content
    assert message.lower() in json.dumps(response.json()[field]).lower()
    assert snapshot() == before


def test_a_query_taken_after_normalisation_is_409(client, curator, companies):
    assert send(client, "post", URL, {"query": "parking app"}, curator).status_code == 201
    before = snapshot()
    response = send(client, "post", URL, {"query": " Parking-APP! "}, curator)
    assert response.status_code == 409
    assert "already has a curation" in response.json()["query"][0]
    other = send(client, "post", URL, {"query": "other"}, curator).json()
    assert (
        send(client, "patch", f"{URL}{other['id']}/", {"query": "PARKING app"}, curator).status_code
        == 409
    )
    assert snapshot()[0] == before[0] + [(other["id"], "other", "other")]


@pytest.mark.parametrize(
    "raw",
    ["", "{", "[]", "null", '"text"', '{"query": "x", "pinned": [1.5]}', "\xff\xfe"],
)
def test_unreadable_bodies_are_4xx_and_store_nothing(client, curator, companies, raw):
    before = snapshot()
    response = send(client, "post", URL, raw.encode("latin-1"), curator)
    assert 400 <= response.status_code < 500
    assert snapshot() == before


def test_anonymous_clients_get_401_for_everything(client, curator, companies):
    curation = send(client, "post", URL, {"query": "x"}, curator).json()
    before = snapshot()
    for method, url, body in [
        ("get", URL, None),
        ("get", f"{URL}{curation['id']}/", None),
        ("post", URL, {"query": "y"}),
        ("patch", f"{URL}{curation['id']}/", {"query": "z"}),
        ("delete", f"{URL}{curation['id']}/", None),
    ]:
        response = send(client, method, url, body)
        assert response.status_code == 401, (method, url)
        assert response.headers["WWW-Authenticate"] == "Token"
    assert snapshot() == before


@pytest.mark.parametrize(
    "method, needed",
    [
        ("get", "view_curation"),
        ("post", "add_curation"),
        ("patch", "change_curation"),
        ("delete", "delete_curation"),
    ],
)
def test_each_action_needs_its_permission(
    client, django_user_model, curator, companies, method, needed
):
    curation = send(client, "post", URL, {"query": "x"}, curator).json()
    others = token_for(django_user_model, "others", *(set(ALL) - {needed}), "change_company")
    allowed = token_for(django_user_model, "allowed", needed)
    url = URL if method == "post" else f"{URL}{curation['id']}/"
    body = {"query": "y"} if method in ("post", "patch") else None
    before = snapshot()
    assert send(client, method, url, body, others).status_code == 403
    assert snapshot() == before
    assert send(client, method, url, body, allowed).status_code in (200, 201, 204)


def test_session_writes_need_the_csrf_token(django_user_model, companies):
    user = django_user_model.objects.create_user("session-curator", password="pw")
    user.user_permissions.set(Permission.objects.filter(codename__in=ALL))
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(URL).status_code == 200
    response = client.post(URL, {"query": "x"}, content_type="application/json")
    assert response.status_code == 403 and not Curation.objects.exists()


def test_the_schema_documents_the_curations_api(client):
    schema = client.get("/api/schema/?format=json").json()
    assert {"/api/curations/", "/api/curations/{id}/"} <= set(schema["paths"])
    assert "pinned" in schema["components"]["schemas"]["SearchHit"]["properties"]
