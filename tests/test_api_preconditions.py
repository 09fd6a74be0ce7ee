"""Optimistic concurrency on /api/companies/: ETag out, If-Match in, Location on 201."""

import pytest
from django.db.models import F
from django.db.models.signals import pre_save

from companies.models import Company
from tests.factories import make_company

pytestmark = pytest.mark.django_db

URL = "/api/companies/"


def detail_url(company):
    return f"{URL}{company.pk}/"


@pytest.fixture
def editor_client(client, editor_token):
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {editor_token}"
    return client


def write(client, method, company, body=None, if_match=None):
    headers = {} if if_match is None else {"If-Match": if_match}
    return getattr(client, method)(
        detail_url(company), body, content_type="application/json", headers=headers
    )


def stored(company):
    return Company.objects.values().get(pk=company.pk)


def test_a_read_carries_the_version_as_a_strong_etag(client):
    acme = make_company("Acme")
    response = client.get(detail_url(acme))
    assert response["ETag"] == f'"{acme.version}"' == '"1"'
    assert response.json()["version"] == 1


def test_create_answers_201_with_location_and_etag(editor_client):
    response = editor_client.post(
        URL, {"name": "Zephyr", "link": "https://zephyr.example"}, content_type="application/json"
    )
    assert response.status_code == 201
    company = Company.objects.get(name="Zephyr")
    assert response["Location"] == f"http://testserver/api/companies/{company.pk}/"
    assert response["ETag"] == '"1"' and response.json()["version"] == 1
    assert editor_client.get(response["Location"]).json()["id"] == company.pk


def test_each_write_answers_the_new_etag(editor_client):
    acme = make_company("Acme")
    etags = [editor_client.get(detail_url(acme))["ETag"]]
    for name in ("Acme 2", "Acme 3"):
        response = write(editor_client, "patch", acme, {"name": name}, if_match=etags[-1])
        assert response.status_code == 200
        assert response.json()["version"] == int(response["ETag"].strip('"'))
        etags.append(response["ETag"])
    put = write(
        editor_client, "put", acme, {"name": "Acme 4", "link": acme.link}, if_match=etags[-1]
    )
    etags.append(put["ETag"])
    assert etags == ['"1"', '"2"', '"3"', '"4"']
    assert editor_client.get(detail_url(acme))["ETag"] == '"4"'


@pytest.mark.parametrize("method", ["patch", "put"])
@pytest.mark.parametrize("if_match", ['"1"', "*", '"7", "1"', ' "9" ,, "1" ,'])
def test_a_matching_if_match_writes(editor_client, method, if_match):
    acme = make_company("Acme")
    body = {"name": "Acme Rockets", "link": acme.link}
    response = write(editor_client, method, acme, body, if_match=if_match)
    assert response.status_code == 200
    assert Company.objects.get(pk=acme.pk).name == "Acme Rockets"


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
@pytest.mark.parametrize("if_match", ['"2"', 'W/"1"', '"01"', '"1x"', '"' + "1" * 10_000 + '"'])
def test_a_stale_or_weak_if_match_is_412_and_changes_nothing(editor_client, method, if_match):
    acme = make_company("Acme")
    before = stored(acme)
    response = write(editor_client, method, acme, {"name": "Changed", "link": acme.link}, if_match)
    assert response.status_code == 412
    assert "changed since you read it" in response.json()["detail"]
    assert stored(acme) == before


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
@pytest.mark.parametrize(
    "if_match",
    ["1", "", " ", "abc", '"1', '"1 "', '"1" "2"', '"1";', 'w/"1"', "**", '*, "1"', '"a"b"'],
)
def test_a_malformed_if_match_is_412_saying_so_and_changes_nothing(editor_client, method, if_match):
    acme = make_company("Acme")
    before = stored(acme)
    response = write(editor_client, method, acme, {"name": "Changed", "link": acme.link}, if_match)
    assert response.status_code == 412
    assert response.json()["detail"].startswith("Malformed If-Match header")
    assert stored(acme) == before


def test_a_change_between_the_read_and_the_write_is_412(editor_client):
    """Another writer changes the company after this request checked If-Match, before it wrote
    (here inside the request's transaction, so the refusal rolls that change back too)."""
    acme = make_company("Acme", city="Chicago")

    def another_writer(sender, instance, **kwargs):
        Company.objects.filter(pk=instance.pk).update(city="Berlin", version=F("version") + 1)

    pre_save.connect(another_writer, sender=Company)
    try:
        response = write(editor_client, "patch", acme, {"name": "Mine"}, if_match='"1"')
    finally:
        pre_save.disconnect(another_writer, sender=Company)
    assert response.status_code == 412
    assert stored(acme)["name"] == "Acme"


def test_delete_with_a_matching_if_match(editor_client):
    acme = make_company("Acme")
    assert write(editor_client, "delete", acme, if_match='"1"').status_code == 204
    assert not Company.objects.filter(pk=acme.pk).exists()


def test_writes_to_a_deleted_company_are_404_whatever_the_if_match(editor_client):
    acme = make_company("Acme")
    Company.objects.filter(pk=acme.pk).delete()
    for if_match in ('"1"', "*", '"2"', "garbage"):
        assert write(editor_client, "delete", acme, if_match=if_match).status_code == 404
        response = write(editor_client, "patch", acme, {"name": "Back"}, if_match=if_match)
        assert response.status_code == 404
    assert not Company.objects.filter(pk=acme.pk).exists()


def test_patch_of_a_company_deleted_meanwhile_is_404_and_it_stays_deleted(editor_client):
    """The delete lands after the PATCH read the company, before it wrote (inside the request's
    transaction here; tests/test_api_races.py races real threads)."""
    acme = make_company("Acme")

    def another_deletes(sender, instance, **kwargs):
        Company.objects.filter(pk=instance.pk).delete()

    pre_save.connect(another_deletes, sender=Company)
    try:
        response = write(editor_client, "patch", acme, {"name": "Resurrected"})
    finally:
        pre_save.disconnect(another_deletes, sender=Company)
    assert response.status_code == 404 and response.json() == {
        "detail": "Not found.",
        "code": "not_found",
    }
    assert not Company.objects.filter(name="Resurrected").exists()


def test_the_version_is_read_only(editor_client):
    acme = make_company("Acme")
    response = write(editor_client, "patch", acme, {"version": 99})
    assert response.status_code == 400
    assert response.json() == {"version": ["This field is read-only."]}
    assert stored(acme)["version"] == 1
