import io
import os
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.management import call_command
from django.test import override_settings
from rest_framework.authtoken.models import Token

from companies.importing import import_companies
from companies.models import Company
from companies.search.indexing import index_companies, open_index
from companies.search.store import close_store

DEMO_FILE = Path(__file__).resolve().parent.parent / "data" / "startups_demo.jsonl"


def search_settings(**changes):
    return {**django_settings.COMPANY_SEARCH, **changes}


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with no throttle counts."""
    cache.clear()


@pytest.fixture
def search_store(tmp_path, settings):
    """A fresh, empty embedded Qdrant store on disk for one test."""
    settings.COMPANY_SEARCH = search_settings(QDRANT_PATH=str(tmp_path / "qdrant"))
    yield open_index()
    close_store()


@pytest.fixture
def editor(django_user_model):
    """A user allowed to add, change and delete companies (and nothing else)."""
    user = django_user_model.objects.create_user("editor", password="editor-password")
    user.user_permissions.set(Permission.objects.filter(
        content_type__app_label="companies",
        codename__in=["add_company", "change_company", "delete_company"],
    ))
    return user


@pytest.fixture
def editor_token(editor):
    """The editor's API token, made the way the README says."""
    call_command("drf_create_token", editor.username, stdout=io.StringIO())
    return Token.objects.get(user=editor).key


@pytest.fixture(scope="module")
def demo_companies(django_db_setup, django_db_blocker, tmp_path_factory):
    """The 259 demo startups in the database and indexed in a store of their own (per module)."""
    path = tmp_path_factory.mktemp("demo-store") / "qdrant"
    with override_settings(COMPANY_SEARCH=search_settings(QDRANT_PATH=str(path))):
        with django_db_blocker.unblock():
            result = import_companies(DEMO_FILE.read_bytes())
            index_companies(result.company_ids)
            yield result
            Company.objects.all().delete()
        close_store()


def _integration_blocker():
    """Why the integration tests cannot run here, or None."""
    from django.conf import settings

    from tests.integration import REDIS_URL, redis_reachable

    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.postgresql":
        return ("they need PostgreSQL: set TEST_DATABASE_URL=postgres://… "
                "(make test does, and starts them with -m integration)")
    import psycopg

    try:
        psycopg.connect(
            host=database["HOST"], port=database["PORT"] or 5432, user=database["USER"],
            password=database["PASSWORD"], dbname="postgres", connect_timeout=3,
        ).close()
    except psycopg.Error as exc:
        return f"PostgreSQL at {database['HOST']}:{database['PORT']} is unreachable ({exc})"
    if not redis_reachable():
        return f"Redis at {REDIS_URL} is unreachable"
    return None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    integration = [item for item in items if item.get_closest_marker("integration")]
    if not integration:
        return
    reason = _integration_blocker()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.exit(f"CI is set, so the integration tests must run, but {reason}.", returncode=1)
    for item in integration:
        item.add_marker(pytest.mark.skip(reason=f"integration tests skipped: {reason}"))
