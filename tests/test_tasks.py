"""The Celery tasks' own logic, called directly (the broker path is in tests/integration)."""

import pytest

from companies.models import Company, IndexStatus
from companies.tasks import TAKE_ALONG, index_companies_task, remove_companies_task
from tests.factories import make_company

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_index_task_takes_other_pending_companies_along(broker_down):
    # The broker is down: the saves queue nothing and every company stays pending.
    companies = [
        make_company(f"Pending {i}", description=f"Pending company {i} makes kites.")
        for i in range(5)
    ]
    assert set(Company.objects.values_list("index_status", flat=True)) == {IndexStatus.PENDING}

    result = index_companies_task.run([companies[0].pk])

    assert result["indexed"] == 5
    assert set(Company.objects.values_list("index_status", flat=True)) == {IndexStatus.INDEXED}
    # The task queued for another of them finds nothing left to do.
    assert index_companies_task.run([companies[3].pk]) == {
        "indexed": 0,
        "unchanged": 1,
        "removed": 0,
    }


def test_take_along_is_bounded(search_store):
    companies = Company.objects.bulk_create(  # pending, and no signals
        Company(name=f"Pending {i}", slug=f"pending-{i}", description="Kites.")
        for i in range(TAKE_ALONG + 5)
    )
    result = index_companies_task.run([companies[-1].pk])
    assert result["indexed"] == TAKE_ALONG + 1
    assert Company.objects.filter(index_status=IndexStatus.PENDING).count() == 4


def test_remove_task_deletes_points_by_id(broker_down):
    company = make_company("Gone Soon", description="Kites.")
    index_companies_task.run([company.pk])
    from companies.search.engines import get_store

    assert company.pk in get_store().point_hashes()
    remove_companies_task.run([company.pk])
    assert company.pk not in get_store().point_hashes()
