import time

import pytest
import redis
from celery.contrib.testing.worker import start_worker

from searchsite.celery import app as celery_app
from tests.conftest import search_settings

from . import REDIS_URL


@pytest.fixture
def celery_worker(settings, tmp_path):
    """A real Celery worker (in a thread of this process) consuming from a real Redis broker.

    The site is switched to the Celery signal processor, so saves queue tasks on the broker.
    The worker shares this process's embedded store, which is why it can run without a server.
    """
    redis.Redis.from_url(REDIS_URL).flushdb()
    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = REDIS_URL
    celery_app.close()  # drop connections made with the previous broker
    settings.COMPANY_SEARCH = search_settings(
        QDRANT_PATH=str(tmp_path / "qdrant"),
        SIGNAL_PROCESSOR="companies.signals.CelerySignalProcessor",
    )
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as worker:
        yield worker
    celery_app.conf.broker_url = previous
    celery_app.close()


def wait_for(condition, timeout=30, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
