"""The index follows saves and deletes (in-process signal processor, the embedded default)."""

import pytest
from django.db import transaction

from companies.models import Company, IndexStatus
from companies.search import indexing
from companies.search.query import search_companies
from tests.factories import make_company
from tests.helpers import NEW_TEXT, OLD_TEXT, store_held_elsewhere

pytestmark = pytest.mark.django_db(transaction=True)


def top(query):
    results = search_companies(query, limit=3)
    return [(hit.company.pk, hit.score) for hit in results.hits]


def test_created_company_is_indexed_and_searchable(search_store):
    company = make_company("Zephyr Labs", description=NEW_TEXT)
    company.refresh_from_db()
    assert company.index_status == IndexStatus.INDEXED
    assert company.indexed_at is not None and len(company.indexed_hash) == 64
    assert search_store.count() == 1
    assert top("quantum chemistry in the cloud")[0][0] == company.pk


def test_updated_text_replaces_the_old_one_in_the_index(search_store):
    company = make_company("Zephyr Labs", description=OLD_TEXT)
    make_company("Harbor Dive Shop", description="Scuba diving courses and gear rental.")
    old_score = dict(top("basket weaving classes"))[company.pk]

    company.description = NEW_TEXT
    company.save()

    company.refresh_from_db()
    assert company.index_status == IndexStatus.INDEXED
    assert search_store.payloads([company.pk])[company.pk]["hash"] == company.indexed_hash
    assert top("quantum chemistry in the cloud")[0][0] == company.pk
    new_score = dict(top("basket weaving classes")).get(company.pk, 0)
    assert new_score < old_score - 0.2


def test_deleted_company_leaves_the_index(search_store):
    company = make_company("Zephyr Labs", description=NEW_TEXT)
    assert search_store.count() == 1
    company.delete()
    assert search_store.count() == 0
    assert top("quantum chemistry in the cloud") == []


def test_saving_unchanged_text_does_not_embed_again(search_store):
    company = make_company("Zephyr Labs", description=NEW_TEXT)
    company.refresh_from_db()
    first_indexed_at = company.indexed_at

    company.image_url = "https://zephyr.example/logo.png"  # not part of the indexed text
    company.save()

    company.refresh_from_db()
    assert company.index_status == IndexStatus.INDEXED
    assert company.indexed_at == first_indexed_at


def test_rolled_back_transaction_indexes_nothing(search_store):
    with pytest.raises(RuntimeError), transaction.atomic():
        make_company("Zephyr Labs", description=NEW_TEXT)
        raise RuntimeError("the request failed after the save")
    assert not Company.objects.exists()
    assert search_store.count() == 0


def test_save_succeeds_while_the_index_is_down_and_the_repair_catches_up(search_store):
    with store_held_elsewhere(search_store):
        company = make_company("Zephyr Labs", description=NEW_TEXT)
        company.refresh_from_db()
        assert company.index_status == IndexStatus.FAILED
        assert "open in another process" in company.index_error

    report = indexing.index_companies([company.pk])

    company.refresh_from_db()
    assert report.indexed == 1
    assert company.index_status == IndexStatus.INDEXED and company.index_error == ""
    assert top("quantum chemistry in the cloud")[0][0] == company.pk


def test_delete_succeeds_while_the_index_is_down_and_the_repair_removes_the_point(search_store):
    company = make_company("Zephyr Labs", description=NEW_TEXT)
    pk = company.pk
    with store_held_elsewhere(search_store):
        company.delete()
    assert not Company.objects.exists()
    store = indexing.open_index()
    assert store.count() == 1  # left behind until repaired

    assert indexing.index_companies([pk]).removed == 1
    assert store.count() == 0
