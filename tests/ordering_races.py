"""The ordering races between writes and indexing, played out deterministically; run on
SQLite (tests/test_index_ordering.py) and on PostgreSQL (tests/integration/test_concurrency.py).

An indexing run embeds outside any transaction and then writes points only for rows still at the
version it embedded, with those rows locked (docs/indexing.md). Here another client's write is
made to land exactly in the window a slow embedding leaves open, or while the rows are locked, and
the index must end up with the newer state. The real model, store and database throughout: the
writes happen from another thread, inside the real embedding call.
"""

import threading

from django.db import connection, transaction

from companies.models import Company, IndexStatus
from companies.search import indexing
from companies.search.engines import get_store
from tests.factories import make_company

LONG = "Long text about deep sea cable repair ships. " * 20
SHORT = "Short text about bicycle couriers."


def in_another_client(action):
    """Run ``action`` in a thread of its own (its own connection), and wait for it."""
    errors = []

    def run():
        try:
            action()
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive() and not errors, errors


def save_fields(pk, **fields):
    """Save as the API and the admin do: in a transaction, its indexing run after the commit."""
    company = Company.objects.get(pk=pk)
    for name, value in fields.items():
        setattr(company, name, value)
    with transaction.atomic():
        company.save()


def point_of(pk):
    return get_store().point_hashes().get(pk)


def _client(action, errors):
    try:
        action()
    except Exception as exc:
        errors.append(exc)
    finally:
        connection.close()


class OrderingRaces:
    """The races; a test module subclasses this to run them on its database."""

    def test_a_slow_older_text_never_lands_after_a_newer_one(self, search_store, during_embedding):
        company = make_company("Cable Co", description="First text.")
        during_embedding(lambda: save_fields(company.pk, description=SHORT))
        save_fields(company.pk, description=LONG)  # its embedding is overtaken by the short text

        company.refresh_from_db()
        assert company.description == SHORT
        assert point_of(company.pk) == indexing.point_hash(company)
        assert company.index_status == IndexStatus.INDEXED
        assert company.indexed_hash == indexing.point_hash(company)
        assert indexing.check_index().clean

    def test_a_company_deleted_while_embedded_leaves_no_point(self, search_store, during_embedding):
        company = make_company("Ghost Co", description="First text.")
        during_embedding(lambda: Company.objects.get(pk=company.pk).delete())
        save_fields(company.pk, description=LONG)

        assert not Company.objects.filter(pk=company.pk).exists()
        assert point_of(company.pk) is None
        assert indexing.check_index().clean

    def test_a_company_created_and_deleted_at_once_leaves_no_point(
        self, search_store, during_embedding
    ):
        during_embedding(lambda: Company.objects.filter(name="Brief Co").delete())
        make_company("Brief Co", description=LONG)
        assert get_store().count() == 0
        assert indexing.check_index().clean

    def test_a_company_taken_out_of_search_while_embedded_leaves_no_point(
        self, search_store, during_embedding
    ):
        company = make_company("Hidden Co", description="First text.")
        during_embedding(lambda: save_fields(company.pk, searchable=False))
        save_fields(company.pk, description=LONG)

        assert point_of(company.pk) is None
        assert indexing.check_index().clean

    def test_a_write_while_the_rows_are_locked_waits_and_is_indexed_after(
        self, search_store, monkeypatch
    ):
        """The other order: the newer save arrives while the older version's point is being written.
        It waits for the lock (no "database is locked"), and its own indexing lands last."""
        company = make_company("Locked Co", description="First text.")
        store = get_store()
        upsert = type(store).upsert
        pending = [lambda: save_fields(company.pk, description=SHORT)]
        waiting = []

        def upsert_then_race(self, points, **kwargs):
            upsert(self, points, **kwargs)
            if pending:
                writer = threading.Thread(target=_client, args=(pending.pop(), waiting))
                writer.start()
                writer.join(timeout=0.5)  # it cannot finish while this transaction holds the rows
                waiting.append(writer)

        monkeypatch.setattr(type(store), "upsert", upsert_then_race)
        save_fields(company.pk, description=LONG)
        writer = waiting.pop(0)
        assert writer.is_alive(), "the newer save did not wait for the rows being indexed"
        writer.join(timeout=60)
        assert not waiting, waiting  # no error from the writer

        company.refresh_from_db()
        assert company.description == SHORT
        assert point_of(company.pk) == indexing.point_hash(company)
        assert indexing.check_index().clean
