"""Helpers shared by the test modules (fixtures live in conftest.py and use these).

Test modules import from here, never from one another or from a conftest: a test module is
collected, not imported, and a helper kept in one made every user depend on its tests.
"""

import os
import secrets
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings as django_settings
from django.test import override_settings
from qdrant_client import QdrantClient

ROOT = Path(__file__).resolve().parent.parent
DEMO_FILE = ROOT / "data" / "startups_demo.jsonl"

# Two descriptions far apart in meaning: a search tells which one the index holds.
OLD_TEXT = "Underwater basket weaving lessons for scuba divers."
NEW_TEXT = "Quantum computing cloud platform for chemistry simulations."


def search_settings(**changes):
    """``COMPANY_SEARCH`` with ``changes``, for ``settings.COMPANY_SEARCH = ...``."""
    return {**django_settings.COMPANY_SEARCH, **changes}


def manage(env, *args, timeout=120):
    """``manage.py`` run in a process of its own with ``env``: its output and exit code."""
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_for(condition, timeout=30, message="condition", interval=0.05):
    """Poll ``condition()`` until it returns something true (returned); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def wait_for_job(pk, timeout=120):
    """Job ``pk`` once it has finished (done or failed), polled from the database."""
    from companies.models import Job

    finished = [Job.State.DONE, Job.State.FAILED]
    return wait_for(
        lambda: Job.objects.filter(pk=pk, state__in=finished).first(),
        timeout=timeout,
        message=f"job {pk} to finish",
    )


@contextmanager
def indexed_demo(django_db_blocker, path):
    """The demo startups in the database, indexed in a store at ``path`` and laid out on the
    map, for a while."""
    from companies.importing import import_companies
    from companies.models import Company
    from companies.search.engines import close_store
    from companies.search.indexing import index_companies
    from companies.search.landscape import build_landscape

    with override_settings(COMPANY_SEARCH=search_settings(QDRANT_PATH=str(path))):
        with django_db_blocker.unblock():
            result = import_companies(DEMO_FILE.read_bytes())
            index_companies(result.company_ids)
            build_landscape()
            yield result
            Company.objects.all().delete()
        close_store()


@contextmanager
def store_held_elsewhere(store):
    """The embedded store taken by another process, as a running site or worker would hold it."""
    from companies.search.engines import close_store

    close_store()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(store.path / ".lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.communicate("")  # closing stdin lets it exit, releasing the lock


HOLD_LOCK = """
import fcntl, sys
lock = open(sys.argv[1], "a+")
fcntl.flock(lock, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


@contextmanager
def running_worker(broker_url, *, pool="solo", concurrency=1):
    """A real Celery worker, in a thread of this process, consuming from ``broker_url``.

    It shares this process's embedded store, which is why it can run without a Qdrant server.
    """
    from celery.contrib.testing.worker import start_worker

    from searchsite.celery import app as celery_app

    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = broker_url
    celery_app.close()  # drop connections made with the previous broker
    try:
        with start_worker(
            celery_app,
            pool=pool,
            concurrency=concurrency,
            perform_ping_check=False,
            shutdown_timeout=60,
        ) as worker:
            yield worker
    finally:
        celery_app.conf.broker_url = previous
        celery_app.close()


STRONG_KEY = secrets.token_urlsafe(50)
# Variables the production-settings tests set; any the environment has are cleared first.
SETTINGS_VARIABLES = (
    "DJANGO_ENV",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "ADMIN_URL",
    "LOG_FORMAT",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "QDRANT_SHARDS",
    "QDRANT_REPLICATION_FACTOR",
    "QDRANT_WRITE_CONSISTENCY",
    "QDRANT_VECTOR_DATATYPE",
    "QDRANT_QUANTIZATION_OVERSAMPLING",
    "DATABASE_URL",
    "QDRANT_URL",
    "CELERY_BROKER_URL",
    "CACHE_URL",
)


def production_env(tmp_path, **variables):
    """The environment of a production process, as the Docker image and compose give it."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in SETTINGS_VARIABLES and not name.startswith("TEST_")
    }
    return {
        **env,
        "DJANGO_ENV": "production",
        "SECRET_KEY": STRONG_KEY,
        "ALLOWED_HOSTS": "search.example.com",
        "VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "searchsite.settings",
        **variables,
    }


class RecordingClient(QdrantClient):
    """qdrant-client's local mode, keeping the keyword arguments of every collection it creates
    (``created``) and the schema of every payload index it is asked for (``indexed``) before
    doing it for real: what the store asks of a server, checked without one."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.created = []
        self.indexed = {}  # payload field: the schema asked for its index

    def create_collection(self, collection_name, **kwargs):
        self.created.append(kwargs)
        return super().create_collection(collection_name, **kwargs)

    def create_payload_index(self, collection_name, field_name, field_schema=None, **kwargs):
        self.indexed[field_name] = field_schema
        return super().create_payload_index(collection_name, field_name, field_schema, **kwargs)
