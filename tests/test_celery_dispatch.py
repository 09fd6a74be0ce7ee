"""With the Celery processor, a broker outage never fails a save."""

import pytest

from companies.models import Company, IndexStatus
from tests.factories import make_company

pytestmark = pytest.mark.django_db(transaction=True)


def test_save_and_delete_succeed_when_the_broker_is_down(broker_down):
    company = make_company("Zephyr Labs", description="Quantum computing.")
    company.refresh_from_db()
    assert company.index_status == IndexStatus.PENDING  # for a retry or the repair
    company.delete()
    assert not Company.objects.exists()
