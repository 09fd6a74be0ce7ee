"""Test settings: the real settings, with test-only secrets and a throwaway store location."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")

import dj_database_url  # noqa: E402

from searchsite.settings import *  # noqa: E402,F403
from searchsite.settings import COMPANY_SEARCH, DATABASES, REST_FRAMEWORK, env_str  # noqa: E402

# Integration tests run on PostgreSQL: make test sets TEST_DATABASE_URL for them.
if env_str("TEST_DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(env_str("TEST_DATABASE_URL"))}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A database file, as on a site: threads racing writes then wait for SQLite's write lock
    # (WAL, BEGIN IMMEDIATE, the busy timeout), where the shared in-memory test database would
    # fail them at once with "database table is locked".
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.mkdtemp(prefix="startup-search-db-"), "test.sqlite3")
    }

COMPANY_SEARCH = {
    **COMPANY_SEARCH,
    "QDRANT_URL": "",
    "QDRANT_PATH": os.path.join(tempfile.mkdtemp(prefix="startup-search-tests-"), "qdrant"),
    "SIGNAL_PROCESSOR": "companies.signals.InProcessSignalProcessor",
    # No background repair unless a test asks for one (tests/test_concurrency.py).
    "REPAIR_INTERVAL": 0,
    # Tests change companies behind the signals' back (rollbacks, bulk imports): look every time.
    "VOCABULARY_CHECK_SECONDS": 0,
}
CELERY_BROKER_URL = ""

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Every test client is 127.0.0.1: one throttle bucket. Tests of throttling set their own rates.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"anon_search": "100000/minute", "anon_suggest": "100000/minute"},
}

# Searches log nothing unless a test turns the log on (tests of the log poll its table).
SEARCH_LOG_ENABLED = False
