import importlib.util
import io
import os
import shutil

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from companies.search import indexing
from companies.search.engines import close_store
from companies.search.indexing import open_index
from tests.helpers import DEMO_FILE, indexed_demo, search_settings
from tests.ordering_races import in_another_client


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
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="companies",
            codename__in=["add_company", "change_company", "delete_company"],
        )
    )
    return user


@pytest.fixture
def editor_token(editor):
    """The editor's API token, made the way docs/api.md says."""
    call_command("drf_create_token", editor.username, stdout=io.StringIO())
    return Token.objects.get(user=editor).key


@pytest.fixture(scope="module")
def demo_companies(django_db_setup, django_db_blocker, tmp_path_factory):
    """The 259 demo startups in the database and indexed in a store of their own (per module)."""
    with indexed_demo(
        django_db_blocker, tmp_path_factory.mktemp("demo-store") / "qdrant"
    ) as result:
        yield result


@pytest.fixture(scope="module")
def demo_points(django_db_setup, django_db_blocker):
    """The demo startups' index points and names by id (embedded once per module), the
    database left empty: what store tests fill engines with."""
    from companies.importing import import_companies
    from companies.models import Company
    from companies.search.indexing import make_points, point_hash

    with django_db_blocker.unblock():
        import_companies(DEMO_FILE.read_bytes())
        companies = list(Company.objects.all())
        points = make_points(companies, {c.pk: point_hash(c) for c in companies})
        names = {c.pk: c.name for c in companies}
        Company.objects.all().delete()
    return points, names


@pytest.fixture
def broker_down(settings, tmp_path):
    """The Celery signal processor, with a broker address where nothing listens."""
    from searchsite.celery import app as celery_app

    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:9/0"
    celery_app.close()
    settings.COMPANY_SEARCH = search_settings(
        QDRANT_PATH=str(tmp_path / "qdrant"),
        SIGNAL_PROCESSOR="companies.signals.CelerySignalProcessor",
    )
    yield
    celery_app.conf.broker_url = previous
    celery_app.close()


def _integration_blocker():
    """Why the integration tests cannot run here, or None."""
    from django.conf import settings

    from tests.integration import REDIS_URL, redis_reachable

    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.postgresql":
        return (
            "they need PostgreSQL: set TEST_DATABASE_URL=postgres://… "
            "(make test does, and starts them with -m integration)"
        )
    import psycopg

    try:
        psycopg.connect(
            host=database["HOST"],
            port=database["PORT"] or 5432,
            user=database["USER"],
            password=database["PASSWORD"],
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.Error as exc:
        return f"PostgreSQL at {database['HOST']}:{database['PORT']} is unreachable ({exc})"
    if not redis_reachable():
        return f"Redis at {REDIS_URL} is unreachable"
    return None


def _browser_blocker():
    """Why the browser tests cannot run here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed (make test installs requirements-dev.txt)"
    if not shutil.which("chromium"):
        return "chromium is not on PATH (apt-get install chromium chromium-driver)"
    return None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Skip the tests whose servers or browser are missing, with the reason; in CI, fail."""
    for marker, blocker in (("integration", _integration_blocker), ("browser", _browser_blocker)):
        selected = [item for item in items if item.get_closest_marker(marker)]
        if not selected:
            continue
        reason = blocker()
        if reason is None:
            continue
        if os.environ.get("CI"):
            pytest.exit(f"CI is set, so the {marker} tests must run, but {reason}.", returncode=1)
        for item in selected:
            item.add_marker(pytest.mark.skip(reason=f"{marker} tests skipped: {reason}"))


@pytest.fixture
def during_embedding(monkeypatch):
    """``during_embedding(action)``: the next indexing run's embedding does ``action`` (once)."""
    make_points = indexing.make_points

    def arrange(action):
        pending = [action]

        def embed_then_act(companies, hashes):
            points = make_points(companies, hashes)
            if pending and companies:
                in_another_client(pending.pop())
            return points

        monkeypatch.setattr(indexing, "make_points", embed_then_act)

    return arrange
