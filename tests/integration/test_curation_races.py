"""Curation writes and the search log under concurrent clients, on PostgreSQL.

Each client is a thread with its own database connection, as gunicorn threads are.
"""

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token

from companies import searchlog
from companies.models import Company, Curation, SearchClick

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
CLIENTS = 12


@pytest.fixture(autouse=True)
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("races are checked on PostgreSQL (TEST_DATABASE_URL)")


@pytest.fixture
def token(django_user_model):
    user = django_user_model.objects.create_user("curator")
    user.user_permissions.set(Permission.objects.filter(codename__endswith="_curation"))
    return Token.objects.create(user=user).key


@pytest.fixture
def companies():
    Company.objects.bulk_create(
        Company(name=f"Company {i}", slug=f"company-{i}", city="Chicago") for i in range(CLIENTS)
    )
    return list(Company.objects.order_by("pk").values_list("pk", flat=True))


def race(requests):
    """Run the callables at once, each in a thread; their results in order."""
    barrier = threading.Barrier(len(requests))

    def run(request):
        try:
            barrier.wait()
            return request()
        finally:
            connection.close()  # this thread's own connection

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(run, requests))


def send(token, method, url, body):
    client = Client(raise_request_exception=False)
    return lambda: client.generic(
        method,
        url,
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Token {token}"},
    )


def test_one_curation_per_query_however_many_create_it_at_once(token, companies):
    spellings = ["parking app", "Parking App", "parking-app", " PARKING  APP!"]
    responses = race(
        [
            send(token, "post", "/api/curations/", {"query": spellings[i % 4], "pinned": [pk]})
            for i, pk in enumerate(companies)
        ]
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [409] * (CLIENTS - 1)
    winner = next(r.json() for r in responses if r.status_code == 201)
    curation = Curation.objects.get()
    assert [pin.company_id for pin in curation.pins.all()] == winner["pinned"]


def test_concurrent_updates_leave_one_whole_list(token, companies):
    curation = Curation.objects.create(query="parking app")
    lists = [companies[i : i + 3] for i in range(CLIENTS - 2)]
    url = f"/api/curations/{curation.pk}/"
    responses = race([send(token, "patch", url, {"pinned": pins}) for pins in lists])
    assert {response.status_code for response in responses} == {200}
    stored = [pin.company_id for pin in Curation.objects.get().pins.all()]
    assert stored in lists


def test_every_click_answered_204_is_logged(settings, companies):
    settings.SEARCH_LOG_ENABLED = True
    settings.SEARCH_CLICK_RATE = 10_000

    def click(i):
        client = Client(raise_request_exception=False)
        body = {
            "search": str(uuid.uuid4()),
            "q": "parking",
            "company": str(companies[i % len(companies)]),
            "position": str(i % 10 + 1),
            "target": "page",
        }
        return lambda: [client.post("/search/click/", body).status_code for _ in range(25)]

    statuses = sum(race([click(i) for i in range(CLIENTS)]), [])
    assert set(statuses) == {204}
    assert searchlog.writer.flush(timeout=30)
    assert SearchClick.objects.count() == len(statuses)
