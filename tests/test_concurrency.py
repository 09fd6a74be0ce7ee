"""Many clients racing creates, PATCHes, deletes and searchable toggles on the same companies
(SQLite, indexing in the web process): once they settle, the index equals the database and
every acknowledged write is there. ROUNDS rounds of ROUND_SECONDS each, with different random
choices; see tests/racing.py.

The races run without the periodic repair, which would mend what the ordering got wrong and hide
it; the repair thread has tests of its own below.
"""

import os
import threading

import pytest

from companies.models import Company
from companies.search import autorepair, indexing
from companies.search.indexing import open_index
from companies.search.landscape import build_landscape
from tests.factories import make_company
from tests.helpers import search_settings
from tests.racing import Clients, assert_consistent, settled

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = int(os.environ.get("RACE_ROUNDS", 20))
ROUND_SECONDS = float(os.environ.get("RACE_SECONDS", 2))


@pytest.fixture
def racing_store(settings, tmp_path):
    """A fresh embedded store, without the periodic repair."""
    settings.COMPANY_SEARCH = search_settings(QDRANT_PATH=str(tmp_path / "qdrant"))


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_racing_writes_settle_into_an_index_equal_to_the_database(
    racing_store, editor_token, round_
):
    companies = [
        make_company(f"Racer {round_}-{i}", description=f"Short r{round_}i{i}.") for i in range(6)
    ]
    build_landscape()  # the map follows the race too
    race = Clients(editor_token, [c.pk for c in companies], ROUND_SECONDS, seed=round_).run()
    assert race.writes > 20, race.statuses
    assert_consistent(race)


# The embedded store's own repair --------------------------------------------------------------


@pytest.fixture
def repairing_store(settings, tmp_path):
    """A fresh embedded store whose process checks and repairs it five times a second."""
    settings.COMPANY_SEARCH = search_settings(
        QDRANT_PATH=str(tmp_path / "qdrant"), REPAIR_INTERVAL=0.2
    )
    yield open_index()
    autorepair.stop()


def test_the_process_owning_the_embedded_store_repairs_drift_by_itself(repairing_store):
    kept = make_company("Kept Co", description="Kites for children.")
    hidden = make_company("Hidden Co", description="Sails for boats.")
    # Writes behind the signals' back: a changed text, a row without a point, a company taken out
    # of search with its point left behind.
    Company.objects.filter(pk=kept.pk).update(description="Bakery supplies wholesale.")
    added = Company.objects.bulk_create(
        [Company(name="Bulk Co", slug="bulk-co", description="Drones for farms.")]
    )[0]
    Company.objects.filter(pk=hidden.pk).update(searchable=False)

    drift = settled(timeout=30)

    assert drift.clean, drift.summary()
    points = repairing_store.point_hashes()
    assert set(points) == {kept.pk, added.pk}
    assert points[kept.pk] == indexing.point_hash(Company.objects.get(pk=kept.pk))


def test_no_repair_thread_when_the_interval_is_zero(racing_store):
    open_index()
    assert not any(thread.name == "search-index-repair" for thread in threading.enumerate())


def test_celery_beat_runs_the_same_repair(racing_store, settings):
    from companies.tasks import repair_index_task

    company = make_company("Kept Co", description="Kites for children.")
    Company.objects.filter(pk=company.pk).update(description="Bakery supplies wholesale.")
    assert repair_index_task.run() == {"drift": 1, "indexed": 1, "removed": 0, "placed": 0}
    assert repair_index_task.run() == {"drift": 0, "placed": 0}
    assert settings.CELERY_BEAT_SCHEDULE["repair-search-index"] == {
        "task": repair_index_task.name,
        "schedule": settings.SEARCH_REPAIR_INTERVAL,
    }
