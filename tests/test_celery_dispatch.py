"""With the Celery processor, a broker outage never fails a save."""

import pytest

from companies.models import Company, IndexStatus
from searchsite.celery import app as celery_app
from tests.conftest import search_settings
from tests.factories import make_company

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker_down(settings, tmp_path):
    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:9/0"  # nothing listens there
    celery_app.close()
    settings.COMPANY_SEARCH = search_settings(
        QDRANT_PATH=str(tmp_path / "qdrant"),
        SIGNAL_PROCESSOR="companies.signals.CelerySignalProcessor",
    )
    yield
    celery_app.conf.broker_url = previous
    celery_app.close()


def test_save_and_delete_succeed_when_the_broker_is_down(broker_down):
    company = make_company("Zephyr Labs", description="Quantum computing.")
    company.refresh_from_db()
    assert company.index_status == IndexStatus.PENDING  # for a retry or the repair
    company.delete()
    assert not Company.objects.exists()
