"""Writes made from a copy read before another writer's change: a partial save, the city
merge, curations. Each interleaving is forced (the later writer reads, the other commits, the
later one writes), so the outcome does not depend on the scheduler."""

import threading

import pytest
from django.db import connections
from django.db.models.signals import post_save
from django.test import Client
from rest_framework.authtoken.models import Token

from companies.api.curations import CurationSerializer
from companies.api.views import CompanyViewSet
from companies.models import Company, Curation, text_key, website_key
from tests.factories import make_company

pytestmark = pytest.mark.django_db(transaction=True)


def consistent(company):
    """Whether the stored keys are those of the stored fields."""
    company.refresh_from_db()
    return (company.name_text, company.city_key, company.website_key) == (
        text_key(company.name),
        text_key(company.city),
        website_key(company.link),
    )


def test_a_partial_save_writes_only_its_fields_and_the_keys_derived_from_them(search_store):
    company = make_company("Acme", city="Chicago", link="https://old-acme.example")
    stale = Company.objects.get(pk=company.pk)  # read before the change below
    fresh = Company.objects.get(pk=company.pk)
    fresh.name, fresh.link, fresh.slug = "Zebracorp", "https://new-acme.example", "zebracorp"
    fresh.save(update_fields=["name", "link", "slug"])

    stale.searchable = False  # as the admin's hide action saves it
    stale.save(update_fields=["searchable"])
    assert consistent(company) and not company.searchable
    assert (company.name, company.slug) == ("Zebracorp", "zebracorp")

    stale.city = "Berlin"  # as a city merge saves it
    stale.save(update_fields=["city"])
    assert consistent(company) and company.city_key == "berlin"
    assert (company.name, company.slug, company.link) == (
        "Zebracorp",
        "zebracorp",
        "https://new-acme.example",
    )
    # An emptied slug is derived again, and written.
    company.slug = ""
    company.save(update_fields=["slug"])
    company.refresh_from_db()
    assert company.slug == "zebracorp"


def late_patch_while(monkeypatch, step, request_of, url, late_body, auth, early):
    """PATCH ``late_body`` to ``url`` is held after ``step`` (a method, patched here; its
    instance's request is ``request_of(instance)``) until ``early()`` is answered, then goes
    on. Both responses, early first."""
    reached, go = threading.Event(), threading.Event()
    original = getattr(*step)

    def held(self, *args):
        result = original(self, *args)
        if request_of(self).headers.get("X-Late") == "1":
            reached.set()
            assert go.wait(30)
        return result

    monkeypatch.setattr(*step, held)
    late = {}

    def send_late():
        try:
            late["response"] = Client(raise_request_exception=False).patch(
                url, late_body, content_type="application/json", headers={**auth, "X-Late": "1"}
            )
        finally:
            connections.close_all()

    thread = threading.Thread(target=send_late)
    thread.start()
    assert reached.wait(30)
    first = early()
    go.set()
    thread.join()
    return first, late["response"]


def patch_while_another_commits(monkeypatch, token, pk, late_body, early_body):
    """PATCH ``late_body`` reads the company, PATCH ``early_body`` commits, then the late one
    writes."""
    url, auth = f"/api/companies/{pk}/", {"Authorization": f"Token {token}"}
    return late_patch_while(
        monkeypatch,
        (CompanyViewSet, "get_object"),
        lambda view: view.request,
        url,
        late_body,
        auth,
        lambda: Client(raise_request_exception=False).patch(
            url, early_body, content_type="application/json", headers=auth
        ),
    )


@pytest.mark.parametrize(
    "early",
    [
        {"link": "https://new-acme.example"},
        {"slug": "acme-new"},
        {"name": "Zebracorp"},
        {"city": "Berlin"},
    ],
)
def test_a_patch_keeps_what_a_patch_of_other_fields_committed_meanwhile(
    monkeypatch, search_store, editor_token, early
):
    company = make_company("Acme", city="Chicago", link="https://old-acme.example")
    late = {"tags": "robots"} if "city" in early else {"city": "Paris"}
    responses = patch_while_another_commits(monkeypatch, editor_token, company.pk, late, early)
    assert [response.status_code for response in responses] == [200, 200]
    assert consistent(company)
    for field, value in {**early, **late}.items():
        assert getattr(company, field) == value


def test_a_website_changed_meanwhile_is_the_one_taken(monkeypatch, search_store, editor_token):
    company = make_company("Acme", link="https://old-acme.example")
    moved = {"link": "https://new-acme.example"}
    patch_while_another_commits(monkeypatch, editor_token, company.pk, {"city": "Paris"}, moved)
    client = Client(HTTP_AUTHORIZATION=f"Token {editor_token}")
    taken = client.post("/api/companies/", {"name": "Copycat", **moved}, "application/json")
    freed = {"name": "Old Acme", "link": "https://old-acme.example"}
    assert taken.status_code == 409
    assert client.post("/api/companies/", freed, "application/json").status_code == 201


@pytest.fixture
def spellings(search_store):
    """London spelt two ways, the right one by most companies."""
    london = [make_company(name, city="London") for name in ("Thames", "Camden", "Hackney")]
    londo = [make_company(name, city="Londo") for name in ("Soho", "Brick Lane")]
    return london, londo


def merge_while(admin_client, spellings, change):
    """The admin's merge of London and Londo, with ``change`` made to the second Londo company
    right after the merge moved the first: what another request does between the merge's read
    and its next write."""
    (london, *_), (first, second) = spellings
    done = []

    def meanwhile(sender, instance, update_fields=None, **kwargs):
        if not done and update_fields and "city" in update_fields:
            done.append(instance.pk)
            change(Company.objects.get(pk=second.pk if instance.pk == first.pk else first.pk))

    post_save.connect(meanwhile, sender=Company, weak=False, dispatch_uid="merge-meanwhile")
    try:
        return admin_client.post(
            "/admin/companies/company/",
            {"action": "merge_city_spellings", "_selected_action": [london.pk, first.pk]},
        )
    finally:
        post_save.disconnect(dispatch_uid="merge-meanwhile", sender=Company)


def test_a_city_merge_skips_a_company_deleted_meanwhile(admin_client, spellings):
    deleted = []
    response = merge_while(
        admin_client, spellings, lambda company: deleted.append(company.pk) or company.delete()
    )
    assert response.status_code == 302
    assert not Company.objects.filter(pk__in=deleted).exists()
    assert set(Company.objects.values_list("city", flat=True)) == {"London"}


def test_a_city_merge_leaves_a_company_moved_meanwhile_where_it_was_moved(admin_client, spellings):
    moved = []

    def move(company):
        company.city = "Paris"
        company.save(update_fields=["city"])
        moved.append(company.pk)

    assert merge_while(admin_client, spellings, move).status_code == 302
    assert Company.objects.get(pk=moved[0]).city == "Paris"
    assert Company.objects.filter(city="London").count() == 4


def curation_patch_while(monkeypatch, auth, url, late_body, early):
    """PATCH ``late_body`` is checked, ``early()`` is answered, then the PATCH writes."""
    return late_patch_while(
        monkeypatch,
        (CurationSerializer, "validate"),
        lambda serializer: serializer.context["request"],
        url,
        late_body,
        auth,
        early,
    )


@pytest.fixture
def curation_api(search_store, admin_user):
    """A company, a curation of "acme", its URL and an editor's token header."""
    company = make_company("Acme")
    curation = Curation.objects.create(query="acme")
    auth = {"Authorization": f"Token {Token.objects.create(user=admin_user).key}"}
    return company, curation, f"/api/curations/{curation.pk}/", auth


def test_pinning_and_hiding_one_company_at_once_leaves_it_one_or_the_other(
    monkeypatch, curation_api
):
    """Each request alone is valid; the later one is checked again under the curation's lock
    against what the earlier one wrote, and refused."""
    company, _, url, auth = curation_api
    pin, hide = curation_patch_while(
        monkeypatch,
        auth,
        url,
        {"hidden": [company.pk]},
        lambda: Client().patch(
            url, {"pinned": [company.pk]}, content_type="application/json", headers=auth
        ),
    )
    assert (pin.status_code, hide.status_code) == (200, 400)
    assert "pinned and hidden" in hide.json()["hidden"][0]
    stored = Client().get(url, headers=auth).json()
    assert (stored["pinned"], stored["hidden"]) == ([company.pk], [])


def test_a_patch_of_a_list_keeps_the_query_renamed_meanwhile(monkeypatch, curation_api):
    company, curation, url, auth = curation_api
    rename, hide = curation_patch_while(
        monkeypatch,
        auth,
        url,
        {"hidden": [company.pk]},
        lambda: Client().patch(
            url, {"query": "Acme Corp"}, content_type="application/json", headers=auth
        ),
    )
    assert (rename.status_code, hide.status_code) == (200, 200)
    curation.refresh_from_db()
    assert (curation.query, curation.query_key) == ("Acme Corp", "acme corp")
    assert list(curation.hidden.values_list("pk", flat=True)) == [company.pk]


def test_a_patch_never_brings_back_a_curation_deleted_meanwhile(monkeypatch, curation_api):
    company, curation, url, auth = curation_api
    delete, hide = curation_patch_while(
        monkeypatch,
        auth,
        url,
        {"hidden": [company.pk]},
        lambda: Client().delete(url, headers=auth),
    )
    assert (delete.status_code, hide.status_code) == (204, 404)
    assert hide.json()["code"] == "not_found"
    assert not Curation.objects.filter(pk=curation.pk).exists()
