"""On PostgreSQL: the ordering races of tests/test_index_ordering.py (row locks instead of
SQLite's database lock), and the racing clients of tests/test_concurrency.py with the indexing
done by a real Celery worker (several indexing threads) consuming from a real Redis broker:
index tasks of one company's successive versions, creates and deletes run out of order and at
once.
"""

import os

import pytest
import redis
from celery.contrib.testing.worker import start_worker

from searchsite.celery import app as celery_app
from tests.conftest import search_settings
from tests.factories import make_company
from tests.racing import Clients, assert_consistent
from tests.test_index_ordering import (  # noqa: F401  (the ordering races again, on PostgreSQL)
    during_embedding,
    test_a_company_created_and_deleted_at_once_leaves_no_point,
    test_a_company_deleted_while_embedded_leaves_no_point,
    test_a_company_taken_out_of_search_while_embedded_leaves_no_point,
    test_a_slow_older_text_never_lands_after_a_newer_one,
    test_a_write_while_the_rows_are_locked_waits_and_is_indexed_after,
)

from . import REDIS_URL
from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROUNDS = int(os.environ.get("RACE_ROUNDS", 20))
ROUND_SECONDS = float(os.environ.get("RACE_SECONDS", 2))


@pytest.fixture
def racing_worker(settings, tmp_path):
    """Saves queue tasks on Redis; a worker with three indexing threads; a fresh store."""
    redis.Redis.from_url(REDIS_URL).flushdb()
    settings.COMPANY_SEARCH = search_settings(
        QDRANT_PATH=str(tmp_path / "qdrant"),
        SIGNAL_PROCESSOR="companies.signals.CelerySignalProcessor",
    )
    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = REDIS_URL
    celery_app.close()
    try:
        with start_worker(
            celery_app,
            pool="threads",
            concurrency=3,
            perform_ping_check=False,
            shutdown_timeout=60,
        ):
            yield
    finally:
        celery_app.conf.broker_url = previous
        celery_app.close()


def queue_empty():
    return redis.Redis.from_url(REDIS_URL).llen("celery") == 0


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_racing_writes_settle_through_the_worker(racing_worker, editor_token, round_):
    companies = [
        make_company(f"Racer {round_}-{i}", description=f"Short r{round_}i{i}.") for i in range(6)
    ]
    race = Clients(editor_token, [c.pk for c in companies], ROUND_SECONDS, seed=round_).run()
    assert race.writes > 20, race.statuses
    wait_for(queue_empty, timeout=60, message="the worker to take every task")
    assert_consistent(race, timeout=60)
