"""Writes to /api/companies/: authentication, permissions, validation, conflicts."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.db.models.signals import pre_save
from django.test import Client
from rest_framework.authtoken.models import Token

from companies.models import Company
from tests.factories import make_company

pytestmark = pytest.mark.django_db

URL = "/api/companies/"
NEW_COMPANY = {
    "name": "Zephyr Labs",
    "link": "https://zephyr.example",
    "description": "Quantum computing cloud platform for chemistry simulations.",
    "city": "Berlin",
    "tags": "quantum cloud",
}


def detail_url(company):
    return f"{URL}{company.pk}/"


def send(client, method, url, body, token=None):
    """A JSON request, as an editor (with ``token``) or anonymously."""
    headers = {"Authorization": f"Token {token}"} if token else {}
    return getattr(client, method)(url, body, content_type="application/json", headers=headers)


def token_for(django_user_model, username, *permissions):
    user = django_user_model.objects.create_user(username)
    user.user_permissions.set(Permission.objects.filter(codename__in=permissions))
    return Token.objects.create(user=user).key


# Authentication and permissions ----------------------------------------------------------------


def test_anonymous_writes_are_401_and_change_nothing(client):
    company = make_company("Acme")
    responses = [
        send(client, "post", URL, NEW_COMPANY),
        send(client, "patch", detail_url(company), {"name": "Changed"}),
        send(client, "put", detail_url(company), NEW_COMPANY),
        client.delete(detail_url(company)),
    ]
    assert [r.status_code for r in responses] == [401] * 4
    assert all(r["WWW-Authenticate"] == "Token" for r in responses)
    assert responses[0].json()["detail"] == "Authentication credentials were not provided."
    assert list(Company.objects.values_list("name", flat=True)) == ["Acme"]


@pytest.mark.parametrize(
    "method, permission",
    [("post", "add_company"), ("patch", "change_company"), ("delete", "delete_company")],
)
def test_each_write_needs_its_own_permission(client, django_user_model, method, permission):
    company = make_company("Acme")
    url = URL if method == "post" else detail_url(company)
    others = {"add_company", "change_company", "delete_company"} - {permission}
    lacking = token_for(django_user_model, "lacking", *others)
    response = send(client, method, url, {"name": "X", "link": "https://x.example"}, lacking)
    assert response.status_code == 403
    assert "permission" in response.json()["detail"]
    allowed = token_for(django_user_model, "allowed", permission)
    response = send(client, method, url, {"name": "X", "link": "https://x.example"}, allowed)
    assert response.status_code in (200, 201, 204)


def test_an_invalid_token_is_401_even_for_reads(client):
    headers = {"Authorization": "Token not-a-real-token"}
    response = client.get(URL, headers=headers)
    assert response.status_code == 401 and response.json()["detail"] == "Invalid token."
    assert send(client, "post", URL, NEW_COMPANY, "not-a-real-token").status_code == 401


def test_session_writes_need_the_csrf_token(editor):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(editor)
    without = browser.post(URL, NEW_COMPANY, content_type="application/json")
    assert without.status_code == 403 and "CSRF" in without.json()["detail"]
    # What a page of the site would hold: the CSRF cookie, echoed in the header.
    secret = "a" * 32
    browser.cookies["csrftoken"] = secret
    created = browser.post(
        URL, NEW_COMPANY, content_type="application/json", headers={"X-CSRFToken": secret}
    )
    assert created.status_code == 201


# Creating --------------------------------------------------------------------------------------


def test_create_returns_the_company_with_derived_fields(client, editor_token):
    response = send(client, "post", URL, NEW_COMPANY, editor_token)
    assert response.status_code == 201
    body = response.json()
    company = Company.objects.get(pk=body["id"])
    assert body["slug"] == "zephyr-labs" == company.slug
    assert company.website_key == "zephyr.example"
    assert {key: body[key] for key in NEW_COMPANY} == NEW_COMPANY
    assert body["created_at"] and body["index_status"] == "pending"


def test_slugs_are_derived_unique_or_taken_as_given(client, editor_token):
    first = send(client, "post", URL, NEW_COMPANY, editor_token).json()
    second = send(
        client, "post", URL, {**NEW_COMPANY, "link": "https://zephyr2.example"}, editor_token
    ).json()
    assert (first["slug"], second["slug"]) == ("zephyr-labs", "zephyr-labs-2")
    given = send(
        client,
        "post",
        URL,
        {**NEW_COMPANY, "link": "https://z3.example", "slug": "zephyr-three"},
        editor_token,
    ).json()
    assert given["slug"] == "zephyr-three"


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({"link": "https://a.example"}, "name", "This field is required."),
        ({"name": "Acme"}, "link", "This field is required."),
        ({"name": "   ", "link": "https://a.example"}, "name", "This field may not be blank."),
        ({"name": "A" * 201, "link": "https://a.example"}, "name", "no more than 200"),
        ({"name": "Acme", "link": "ftp://a.example"}, "link", "Enter a valid URL."),
        ({"name": "Acme", "link": "javascript:alert(1)"}, "link", "Enter a valid URL."),
        ({"name": "Acme", "link": "https://"}, "link", "Enter a valid URL."),
        ({"name": "Acme", "link": "https://a.example/" + "x" * 500}, "link", "no more than 500"),
        (
            {"name": "Acme", "link": "https://a.example", "image_url": "data:image/png;base64,AA"},
            "image_url",
            "Enter a valid URL.",
        ),
        ({"name": "Acme", "link": "https://a.example", "slug": "not a slug"}, "slug", "slug"),
        (
            {"name": "Acme", "link": "https://a.example", "city": "x" * 101},
            "city",
            "no more than 100",
        ),
        (
            {"name": "Acme", "link": "https://a.example", "description": "x" * 10_001},
            "description",
            "no more than 10000",
        ),
        ({"name": "Ac\x00me", "link": "https://a.example"}, "name", "Null characters"),
        ({"name": 42, "link": "https://a.example"}, "name", "Not a valid string."),
        (
            {"name": "Acme", "link": "https://a.example", "tags": ["a", "b"]},
            "tags",
            "Not a valid string.",
        ),
        (
            {"name": "Acme", "link": "https://a.example", "website": "x"},
            "website",
            "Unknown field.",
        ),
        (
            {"name": "Acme", "link": "https://a.example", "index_status": "indexed"},
            "index_status",
            "This field is read-only.",
        ),
        ({"name": "Acme", "link": "https://a.example", "id": 7}, "id", "This field is read-only."),
        ([{"name": "Acme"}], "non_field_errors", "Expected a dictionary"),
    ],
)
def test_invalid_bodies_are_400_naming_the_field(client, editor_token, body, field, message):
    response = send(client, "post", URL, body, editor_token)
    assert response.status_code == 400
    assert any(message in text for text in response.json()[field])
    assert not Company.objects.exists()


def test_every_problem_is_reported_at_once(client, editor_token):
    body = {"name": "", "link": "nope", "colour": "red", "created_at": "2020-01-01"}
    errors = send(client, "post", URL, body, editor_token).json()
    assert set(errors) == {"name", "link", "colour", "created_at"}


@pytest.mark.parametrize(
    "raw, content_type, status, detail",
    [
        ('{"name": "Acme",', "application/json", 400, "JSON parse error"),
        (
            "name=Acme&link=https://a.example",
            "application/x-www-form-urlencoded",
            415,
            "Unsupported media type",
        ),
    ],
)
def test_unreadable_bodies_are_answered_with_a_detail(
    client, editor_token, raw, content_type, status, detail
):
    response = client.post(
        URL, raw, content_type=content_type, headers={"Authorization": f"Token {editor_token}"}
    )
    assert response.status_code == status and detail in response.json()["detail"]


def test_a_body_over_the_upload_limit_is_413(client, editor_token, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = {**NEW_COMPANY, "description": "x" * 2000}
    response = send(client, "post", URL, body, editor_token)
    assert response.status_code == 413 and "at most 1000 bytes" in response.json()["detail"]
    assert not Company.objects.exists()


# The natural key: one company per website ------------------------------------------------------


@pytest.mark.parametrize(
    "link", ["https://acme.example", "http://www.acme.example/", "HTTPS://ACME.example"]
)
def test_a_second_company_with_the_same_website_is_409(client, editor_token, link):
    acme = make_company("Acme", link="https://acme.example")
    response = send(client, "post", URL, {"name": "Acme Again", "link": link}, editor_token)
    assert response.status_code == 409
    assert response.json() == {
        "link": [f"Another company already has this website: Acme (id {acme.pk})."]
    }
    assert Company.objects.count() == 1


def test_a_taken_slug_is_409(client, editor_token):
    acme = make_company("Acme")
    body = {"name": "Other", "link": "https://other.example", "slug": acme.slug}
    response = send(client, "post", URL, body, editor_token)
    assert response.status_code == 409
    assert response.json()["slug"] == [
        f"Another company already has this slug: Acme (id {acme.pk})."
    ]


def test_a_website_taken_meanwhile_is_409_not_500(client, editor_token):
    """Another request stores the same website between the check and the insert."""

    def store_a_rival(sender, instance, **kwargs):
        if instance.pk is None:
            Company.objects.bulk_create(
                [Company(name="Rival", slug="rival", website_key=instance.website_key)]
            )

    pre_save.connect(store_a_rival, sender=Company)
    try:
        response = send(client, "post", URL, NEW_COMPANY, editor_token)
    finally:
        pre_save.disconnect(store_a_rival, sender=Company)
    assert response.status_code == 409
    assert "try again" in response.json()["detail"]
    assert not Company.objects.exists()


# Changing and deleting -------------------------------------------------------------------------


def test_patch_changes_only_the_fields_sent(client, editor_token):
    acme = make_company("Acme", description="Old text.", city="Chicago")
    response = send(client, "patch", detail_url(acme), {"description": "New text."}, editor_token)
    assert response.status_code == 200
    acme.refresh_from_db()
    assert (acme.description, acme.city, acme.name) == ("New text.", "Chicago", "Acme")


def test_keeping_its_own_website_is_no_conflict(client, editor_token):
    acme = make_company("Acme", link="https://acme.example")
    body = {"name": "Acme Inc", "link": "http://www.acme.example/"}
    response = send(client, "put", detail_url(acme), body, editor_token)
    assert response.status_code == 200
    assert response.json()["slug"] == acme.slug  # URLs stay stable when the name changes


def test_put_replaces_and_needs_the_required_fields(client, editor_token):
    acme = make_company("Acme", description="Old text.")
    response = send(client, "put", detail_url(acme), {"name": "Acme"}, editor_token)
    assert response.status_code == 400 and "link" in response.json()
    replaced = send(
        client,
        "put",
        detail_url(acme),
        {"name": "Acme", "link": "https://acme.example"},
        editor_token,
    )
    assert replaced.status_code == 200
    acme.refresh_from_db()
    assert acme.link == "https://acme.example"


def test_an_empty_slug_is_derived_again_from_the_name(client, editor_token):
    acme = make_company("Acme")
    body = send(
        client, "patch", detail_url(acme), {"name": "Acme Rockets", "slug": ""}, editor_token
    ).json()
    assert body["slug"] == "acme-rockets"


def test_moving_to_another_company_website_is_409_and_keeps_the_data(client, editor_token):
    make_company("Acme", link="https://acme.example")
    beta = make_company("Beta", link="https://beta.example")
    response = send(
        client, "patch", detail_url(beta), {"link": "https://acme.example/"}, editor_token
    )
    assert response.status_code == 409 and "link" in response.json()
    beta.refresh_from_db()
    assert beta.link == "https://beta.example"


def test_an_invalid_change_is_400_and_keeps_the_data(client, editor_token):
    acme = make_company("Acme", description="Kept.")
    response = send(
        client,
        "patch",
        detail_url(acme),
        {"description": "Lost?", "link": "not a url"},
        editor_token,
    )
    assert response.status_code == 400
    acme.refresh_from_db()
    assert acme.description == "Kept."


def test_delete_removes_the_company(client, editor_token):
    acme = make_company("Acme")
    response = client.delete(detail_url(acme), headers={"Authorization": f"Token {editor_token}"})
    assert response.status_code == 204 and response.content == b""
    assert not Company.objects.filter(pk=acme.pk).exists()
    assert client.get(detail_url(acme)).status_code == 404


def test_writes_to_a_missing_company_are_404(client, editor_token):
    for method in ("put", "patch", "delete"):
        response = send(client, method, f"{URL}999999/", NEW_COMPANY, editor_token)
        assert response.status_code == 404, method


def test_a_read_body_sent_back_unchanged_is_refused(client, editor_token):
    """Read-only fields are refused, not ignored: the read body needs trimming first."""
    acme = make_company("Acme")
    read = client.get(detail_url(acme)).json()
    response = client.put(
        detail_url(acme),
        json.dumps(read),
        content_type="application/json",
        headers={"Authorization": f"Token {editor_token}"},
    )
    assert response.status_code == 400
    assert set(response.json()) == {
        "id",
        "version",
        "created_at",
        "updated_at",
        "index_status",
        "indexed_at",
    }


def test_a_change_that_changes_nothing_writes_nothing(
    client, editor_token, django_capture_on_commit_callbacks
):
    company = make_company("Acme", description="Anvils.")
    before = Company.objects.values().get(pk=company.pk)
    with django_capture_on_commit_callbacks() as queued:
        patched = send(client, "patch", detail_url(company), {}, editor_token)
        put = send(
            client,
            "put",
            detail_url(company),
            {"name": "Acme", "link": company.link, "description": "Anvils."},
            editor_token,
        )
    assert patched.status_code == put.status_code == 200
    assert Company.objects.values().get(pk=company.pk) == before  # updated_at too
    assert not queued  # nothing to index
