"""Faults between the database and the index, on PostgreSQL, Redis, a Celery worker and the
embedded store. Each test counts what is in the database and in the store afterwards."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
from celery.signals import task_retry
from django.conf import settings as django_settings
from django.db import connection

from bench.data import generate
from companies.importing import import_companies
from companies.models import Company, IndexStatus
from companies.search import indexing
from companies.search.engines import close_store, get_store
from companies.search.query import search_companies
from tests.factories import make_company
from tests.helpers import running_worker, search_settings, store_held_elsewhere, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def indexed_count():
    return Company.objects.filter(index_status=IndexStatus.INDEXED).count()


def test_index_down_during_50_writes_then_check_is_exact_and_repair_makes_it_zero(celery_sync):
    with running_worker(celery_sync):
        existing = [
            make_company(f"Existing {i}", description=f"Existing company number {i}.")
            for i in range(30)
        ]
        wait_for(lambda: indexed_count() == 30, message="the first 30 indexed")
    store = indexing.open_index()
    with store_held_elsewhere(store):
        with running_worker(celery_sync):
            created = [
                make_company(f"Created {i}", description=f"Brand new venture {i}.")
                for i in range(20)
            ]
            updated = existing[:15]
            for company in updated:
                company.description = f"Rewritten: {company.name} now sells garden tools."
                company.save()
            deleted = existing[15:]
            deleted_ids = [company.pk for company in deleted]
            for company in deleted:
                company.delete()
            # Every database write succeeded, whatever the index did.
            assert Company.objects.count() == 35
            wait_for(
                lambda: Company.objects.filter(index_status=IndexStatus.FAILED).count() == 35,
                message="the failed attempts recorded",
            )
        # The worker is stopped; drop the retries it handed back to the broker.
        redis.Redis.from_url(celery_sync).flushdb()

    drift = indexing.check_index()
    assert sorted(drift.missing) == sorted(c.pk for c in created)
    assert sorted(drift.stale) == sorted(c.pk for c in updated)
    assert sorted(drift.orphaned) == sorted(deleted_ids)
    assert (drift.companies, drift.points) == (35, 30)

    indexing.repair_index(drift)
    after = indexing.check_index()
    assert after.clean and (after.companies, after.points) == (35, 35)
    assert indexed_count() == 35
    assert search_companies("garden tools", mode="keyword", limit=100).count == 15


def test_rebuild_killed_midway_resumes_without_duplicates_or_gaps(celery_sync, tmp_path):
    result = import_companies("\n".join(json.dumps(row) for row in generate(600)))
    indexing.index_companies(result.company_ids)
    store = get_store()
    old_live = store.live_target()
    close_store()  # the rebuilding process takes the store

    database = django_settings.DATABASES["default"]
    env = {
        **os.environ,
        "DEBUG": "1",
        "DJANGO_SETTINGS_MODULE": "searchsite.settings",
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:"
            f"{database['PORT'] or 5432}/{database['NAME']}"
        ),
        "QDRANT_PATH": django_settings.COMPANY_SEARCH["QDRANT_PATH"],
        "EMBEDDING_MODEL_DIR": django_settings.COMPANY_SEARCH["MODEL_DIR"],
    }
    env.pop("CELERY_BROKER_URL", None)
    rebuild = subprocess.Popen(
        [sys.executable, "manage.py", "search_index", "--rebuild", "--batch-size", "20"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Off a terminal the command says each tenth done: kill it once a few batches are in.
    progress = iter(rebuild.stderr.readline, "")
    line = next((line for line in progress if line.startswith("Rebuilding: ")), "")
    assert line, "the rebuild ended without saying its progress"
    rebuild.send_signal(signal.SIGKILL)
    rebuild.wait()

    store = get_store()
    partial = store.point_hashes(next_index=True)
    assert 0 < len(partial) < 600, "killed in the middle"
    assert store.live_target() == old_live  # searches kept the old index meanwhile

    embedded = []
    indexing.rebuild_index(batch_size=50, progress=embedded.append)
    store = get_store()
    assert store.live_target() != old_live and store.rebuild_target() is None
    hashes = store.point_hashes()
    assert sorted(hashes) == sorted(Company.objects.values_list("pk", flat=True))
    assert store.count() == 600  # one point per company: no duplicates, no gaps
    assert indexing.check_index().clean
    assert sum(embedded) == 600  # the resumed part plus what was already there


def test_searches_and_writes_during_a_rebuild(celery_sync):
    result = import_companies("\n".join(json.dumps(row) for row in generate(400)))
    indexing.index_companies(result.company_ids)
    with running_worker(celery_sync):
        errors, answered = [], []
        rebuild = threading.Thread(
            target=lambda: _record_errors(errors, indexing.rebuild_index, batch_size=10)
        )
        rebuild.start()
        wait_for(lambda: get_store().rebuild_target(), message="the rebuild to start")
        added = make_company("Midway Robotics", description="Robot lawnmowers for golf courses.")
        changed = Company.objects.order_by("pk")[5]
        changed.description = "Now makes hand-made violins for orchestras."
        changed.save()
        removed = Company.objects.order_by("pk")[7]
        removed_pk = removed.pk
        removed.delete()
        while rebuild.is_alive():
            answered.append(search_companies("software for restaurants", limit=5).count)
            time.sleep(0.05)
        rebuild.join()
        assert not errors
        assert answered and all(count > 0 for count in answered)
        wait_for(lambda: indexing.check_index().clean, message="the writes to settle")
    assert search_companies("robot lawnmower golf", limit=1).hits[0].company == added
    assert search_companies("violins for orchestras", limit=1).hits[0].company.pk == changed.pk
    assert removed_pk not in get_store().point_hashes()
    assert get_store().count() == Company.objects.count() == 400


def _record_errors(errors, function, **kwargs):
    try:
        function(**kwargs)
    except Exception as exc:  # reported by the test's assertion
        errors.append(exc)
    finally:
        connection.close()


def test_broker_restarted_during_a_burst_loses_nothing(settings, tmp_path, own_redis):
    settings.COMPANY_SEARCH = search_settings(
        QDRANT_PATH=str(tmp_path / "qdrant"),
        SIGNAL_PROCESSOR="companies.signals.CelerySignalProcessor",
    )
    with running_worker(own_redis.url):
        companies = []
        for i in range(60):
            if i == 20:
                own_redis.stop()
            if i == 40:
                own_redis.start()
            companies.append(
                make_company(f"Burst {i}", description=f"Burst company {i} sells maps.")
            )
        assert Company.objects.count() == 60  # every save succeeded
        time.sleep(2)
    drift = indexing.check_index()
    assert drift.missing, "saves made while the broker was down were not indexed yet"
    indexing.repair_index(drift)
    assert indexing.check_index().clean
    assert get_store().count() == 60 == indexed_count()


def test_a_delete_whose_task_fails_once_is_gone_after_the_retry(celery_sync):
    retries = []
    task_retry.connect(
        lambda request=None, **kw: retries.append(request.task),
        weak=False,
        dispatch_uid="record-retries",
    )
    try:
        with running_worker(celery_sync):
            company = make_company("Doomed Co", description="Underwater hotels for tourists.")
            wait_for(lambda: indexed_count() == 1, message="indexed")
            pk = company.pk
            store = indexing.open_index()
            with store_held_elsewhere(store):
                company.delete()
                wait_for(lambda: "companies.remove" in retries, message="a failed attempt")
                assert not Company.objects.filter(pk=pk).exists()
            wait_for(
                lambda: pk not in get_store().point_hashes(),
                timeout=60,
                message="the retry to remove the point",
            )
        assert get_store().count() == 0
        assert search_companies("underwater hotel").count == 0
    finally:
        task_retry.disconnect(dispatch_uid="record-retries")
