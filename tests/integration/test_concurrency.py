"""On PostgreSQL: the ordering races of tests/test_index_ordering.py (row locks instead of
SQLite's database lock), and the racing clients of tests/test_concurrency.py with the indexing
done by a real Celery worker (several indexing threads) consuming from a real Redis broker:
index tasks of one company's successive versions, creates and deletes run out of order and at
once.
"""

import os

import pytest
import redis

from companies.models import Company
from companies.search.landscape import build_landscape
from tests.factories import make_company
from tests.helpers import running_worker, wait_for
from tests.ordering_races import OrderingRaces
from tests.racing import Clients, assert_consistent

from . import REDIS_URL

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROUNDS = int(os.environ.get("RACE_ROUNDS", 20))
ROUND_SECONDS = float(os.environ.get("RACE_SECONDS", 2))


@pytest.fixture
def racing_worker(celery_sync):
    """A worker with three indexing threads, so one company's tasks run out of order and at once."""
    with running_worker(celery_sync, pool="threads", concurrency=3) as worker:
        yield worker


class TestOrderingOnPostgreSQL(OrderingRaces):
    pass


def queue_empty():
    return redis.Redis.from_url(REDIS_URL).llen("celery") == 0


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_racing_writes_settle_through_the_worker(racing_worker, editor_token, round_):
    companies = [
        make_company(f"Racer {round_}-{i}", description=f"Short r{round_}i{i}.") for i in range(6)
    ]
    wait_for(queue_empty, timeout=60, message="the worker to index the racers")
    indexed = Company.objects.filter(pk__in=[c.pk for c in companies], index_status="indexed")
    wait_for(lambda: indexed.count() == 6, timeout=60, message="the racers indexed")
    build_landscape()  # the map follows the race too
    race = Clients(editor_token, [c.pk for c in companies], ROUND_SECONDS, seed=round_).run()
    assert race.writes > 20, race.statuses
    wait_for(queue_empty, timeout=60, message="the worker to take every task")
    assert_consistent(race, timeout=60)
