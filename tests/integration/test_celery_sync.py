"""The index follows the database through a real Redis broker and a real Celery worker,
on PostgreSQL."""

import pytest
from django.db import connection, transaction

from companies.models import Company, IndexStatus
from companies.search.indexing import open_index
from companies.search.query import search_companies
from tests.factories import make_company
from tests.helpers import NEW_TEXT, OLD_TEXT, store_held_elsewhere, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def status_of(pk):
    return Company.objects.values_list("index_status", flat=True).get(pk=pk)


def first_hit(query):
    hits = search_companies(query, limit=1).hits
    return hits[0].company.pk if hits else None


def test_runs_on_postgresql():
    assert connection.vendor == "postgresql"


def test_create_update_delete_follow_through_the_worker(celery_worker):
    company = make_company("Zephyr Labs", description=OLD_TEXT)
    wait_for(lambda: status_of(company.pk) == IndexStatus.INDEXED, message="indexed")
    assert first_hit("basket weaving classes") == company.pk

    company.description = NEW_TEXT
    company.save()
    wait_for(lambda: first_hit("quantum chemistry in the cloud") == company.pk, message="update")
    old_score = search_companies("basket weaving classes", limit=1).hits
    assert not old_score or old_score[0].score < 0.3

    pk = company.pk
    company.delete()
    store = open_index()
    wait_for(lambda: store.count() == 0, message="delete")
    assert pk not in store.payloads([pk])


def test_index_down_keeps_the_save_and_the_retry_fixes_it(celery_worker):
    store = open_index()
    with store_held_elsewhere(store):
        company = make_company("Zephyr Labs", description=NEW_TEXT)
        assert Company.objects.filter(pk=company.pk).exists()
        wait_for(lambda: status_of(company.pk) == IndexStatus.FAILED, message="failed state")
        assert "open in another process" in Company.objects.get(pk=company.pk).index_error
    # The task retries with backoff; once the index is back it succeeds on its own.
    wait_for(lambda: status_of(company.pk) == IndexStatus.INDEXED, timeout=60, message="retry")
    assert Company.objects.get(pk=company.pk).index_error == ""
    assert first_hit("quantum chemistry in the cloud") == company.pk


def test_rolled_back_transaction_queues_nothing(celery_worker):
    with pytest.raises(RuntimeError), transaction.atomic():
        make_company("Zephyr Labs", description=NEW_TEXT)
        raise RuntimeError("request failed")
    marker = make_company("Marker Co", description="Bakery supplies wholesale.")
    # Tasks run in order on the single worker: once the marker is indexed, anything queued
    # before it has run too.
    wait_for(lambda: status_of(marker.pk) == IndexStatus.INDEXED, message="marker indexed")
    assert open_index().count() == 1
    assert list(Company.objects.values_list("name", flat=True)) == ["Marker Co"]
