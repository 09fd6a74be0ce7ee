"""Company writes racing each other through the API, on real threads with their own database
connections: partial updates keep each other's fields, a delete is never undone by an update,
and If-Match lets exactly one of several writers of the same version through.

``ApiRaceBattery`` is collected twice: on SQLite (tests/test_api_races.py) and on PostgreSQL
(tests/integration/test_api_races.py). What the search index makes of racing writes is the
indexing's concern (its own concurrency tests); here the database is the record.
"""

import threading

import pytest
from django.db import connections
from django.test import Client

from companies.models import Company
from tests.factories import make_company

ROUNDS = 4


def race(token, *requests):
    """Run the ``(method, path, body, headers)`` requests at once, one thread each; their
    responses in order."""
    barrier = threading.Barrier(len(requests))
    responses = [None] * len(requests)

    def run(index, method, path, body, headers):
        client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token}")
        try:
            barrier.wait()
            responses[index] = getattr(client, method)(
                path, body, content_type="application/json", headers=headers
            )
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(index, *request))
        for index, request in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


def url(company):
    return f"/api/companies/{company.pk}/"


class ApiRaceBattery:
    @pytest.fixture(autouse=True)
    def _store(self, search_store):
        """A fresh store of the test's own: the writes index as they would in the site."""

    def test_concurrent_patches_of_different_fields_all_survive(self, editor_token):
        for round_ in range(ROUNDS):
            company = make_company(f"Acme {round_}", city="Chicago", tags="old")
            responses = race(
                editor_token,
                ("patch", url(company), {"name": f"Renamed {round_}"}, {}),
                ("patch", url(company), {"city": "Berlin"}, {}),
                ("patch", url(company), {"tags": "new tags"}, {}),
            )
            assert [r.status_code for r in responses] == [200, 200, 200]
            company.refresh_from_db()
            assert (company.name, company.city, company.tags) == (
                f"Renamed {round_}",
                "Berlin",
                "new tags",
            )
            assert company.version == 4  # one step per write
            assert sorted(r.json()["version"] for r in responses) == [2, 3, 4]

    def test_concurrent_patches_keep_the_keys_of_what_each_wrote(self, editor_token):
        """A PATCH writes the keys derived from the fields it sent, never those of fields it
        only read (a website, a name, a city another PATCH changed meanwhile)."""
        for round_ in range(ROUNDS):
            company = make_company(f"Keyed {round_}", link=f"https://keyed-{round_}.example")
            moved = {"link": f"https://moved-{round_}.example", "slug": f"moved-{round_}"}
            responses = race(
                editor_token,
                ("patch", url(company), moved, {}),
                ("patch", url(company), {"city": "Berlin"}, {}),
                ("patch", url(company), {"name": f"Renamed {round_}"}, {}),
            )
            assert [r.status_code for r in responses] == [200, 200, 200]
            company.refresh_from_db()
            assert (company.link, company.slug, company.city) == (*moved.values(), "Berlin")
            assert (company.website_key, company.name_text, company.city_key) == (
                f"moved-{round_}.example",
                f"renamed {round_}",
                "berlin",
            )

    def test_creates_of_one_name_at_once_each_get_a_slug_of_their_own(self, editor_token):
        for round_ in range(ROUNDS):
            responses = race(
                editor_token,
                *[
                    ("post", "/api/companies/", {"name": f"Twin {round_}", "link": link}, {})
                    for link in (f"https://twin-{round_}-{n}.example" for n in range(3))
                ],
            )
            assert [r.status_code for r in responses] == [201, 201, 201]
            assert len({r.json()["slug"] for r in responses}) == 3

    def test_a_patch_racing_a_delete_never_brings_the_company_back(self, editor_token):
        for round_ in range(ROUNDS):
            company = make_company(f"Doomed {round_}")
            patch, delete = race(
                editor_token,
                ("patch", url(company), {"description": "Still here?"}, {}),
                ("delete", url(company), None, {}),
            )
            assert delete.status_code == 204
            assert patch.status_code in (200, 404), patch.content
            if patch.status_code == 404:
                assert patch.json()["detail"]
            assert not Company.objects.filter(pk=company.pk).exists()

    def test_one_writer_per_version_gets_through(self, editor_token):
        for round_ in range(ROUNDS):
            company = make_company(f"Contested {round_}")
            responses = race(
                editor_token,
                *[
                    ("patch", url(company), {"city": city}, {"If-Match": '"1"'})
                    for city in ("Berlin", "Paris", "Lisbon", "Oslo")
                ],
            )
            statuses = sorted(r.status_code for r in responses)
            assert statuses == [200, 412, 412, 412]
            winner = next(r for r in responses if r.status_code == 200).json()
            company.refresh_from_db()
            assert (company.city, company.version) == (winner["city"], 2)

    def test_a_conditional_delete_and_a_conditional_patch_of_one_version(self, editor_token):
        for round_ in range(ROUNDS):
            company = make_company(f"Either {round_}")
            patch, delete = race(
                editor_token,
                ("patch", url(company), {"city": "Berlin"}, {"If-Match": '"1"'}),
                ("delete", url(company), None, {"If-Match": '"1"'}),
            )
            outcome = (patch.status_code, delete.status_code)
            assert outcome in {(200, 412), (404, 204), (412, 204)}, outcome
            assert Company.objects.filter(pk=company.pk).exists() == (delete.status_code == 412)
