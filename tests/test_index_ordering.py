"""The ordering rule between writes and indexing (tests/ordering_races.py), on SQLite; and a
delete whose removal was never queued (the broker down), which only the in-process setup shows."""

import pytest

from companies.models import Company
from companies.search import indexing
from tests.factories import make_company
from tests.ordering_races import LONG, OrderingRaces, point_of, save_fields

pytestmark = pytest.mark.django_db(transaction=True)


class TestOrderingOnSQLite(OrderingRaces):
    pass


def test_a_delete_whose_removal_was_never_queued_leaves_no_point(broker_down, during_embedding):
    # The broker is down: saves and deletes queue nothing; indexing is run by hand (as a retry).
    company = make_company("Ghost Co", description="First text.")
    indexing.index_companies([company.pk])
    save_fields(company.pk, description=LONG)
    during_embedding(lambda: Company.objects.get(pk=company.pk).delete())

    indexing.index_companies([company.pk])

    assert point_of(company.pk) is None
    assert indexing.check_index().clean
