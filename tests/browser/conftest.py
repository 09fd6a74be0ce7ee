"""Browser tests: real headless Chromium (Debian's, driven by Playwright) against a live server.

The live server runs in a thread of this process, so it shares the test database (SQLite in
memory: Django hands the server thread the same connection) and the embedded search store. The
demo data is imported and indexed once per module; the database is emptied after every test
(live_server needs transactional tests), so each test gets the rows back from a snapshot, and a
test that changed a company's index entry has it restored.
"""

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from companies.models import Company, MapCluster, MapPoint
from companies.search.indexing import index_companies, open_index, remove_companies
from tests.helpers import indexed_demo

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def chromium_path():
    return shutil.which("chromium")


@pytest.fixture(scope="module")
def browser():
    """Chromium for one module: Playwright's event loop must be gone before other tests run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module", autouse=True)
def allow_orm_beside_playwright():
    """Playwright's sync API keeps an event loop in the main thread; the ORM calls made there
    (arranging data, checking it) are still plain synchronous code."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="module")
def demo_snapshot(django_db_setup, django_db_blocker, tmp_path_factory):
    """The demo startups imported, indexed in a store of this module's and laid out on the map:
    the rows as saved (companies, then the map's)."""
    with indexed_demo(django_db_blocker, tmp_path_factory.mktemp("browser-store") / "qdrant"):
        yield (
            list(Company.objects.values()),
            list(MapPoint.objects.values()),
            list(MapCluster.objects.values()),
        )


@pytest.fixture(autouse=True)
def demo_data(demo_snapshot, live_server, settings):
    """The demo rows in the database for this test; afterwards, the index as it was: companies
    the test added are removed from it, and those it changed are indexed as they were."""
    # Plain-HTTP live server: cookies cannot be Secure-only here.
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    companies, map_points, map_clusters = demo_snapshot
    if not Company.objects.exists():
        Company.objects.bulk_create(Company(**row) for row in companies)
        MapPoint.objects.bulk_create(MapPoint(**row) for row in map_points)
        MapCluster.objects.bulk_create(MapCluster(**row) for row in map_clusters)
    yield
    original = {row["id"]: row for row in companies}
    added = list(Company.objects.exclude(pk__in=original).values_list("pk", flat=True))
    remove_companies(added)
    indexed = open_index().payloads(list(original))
    changed = [
        pk for pk, row in original.items() if indexed.get(pk, {}).get("hash") != row["indexed_hash"]
    ]
    if changed:
        for pk in changed:
            Company.objects.filter(pk=pk).update(**original[pk])
        index_companies(changed, force=True)


@pytest.fixture
def new_context(browser, live_server):
    """Open browser contexts on the live server; requests anywhere else (logos) fail at once."""
    live_host = urlsplit(live_server.url).netloc
    contexts = []

    def local_only(route):
        if urlsplit(route.request.url).netloc == live_host:
            route.continue_()
        else:
            route.abort()

    def open_context(**options):
        context = browser.new_context(base_url=live_server.url, **options)
        context.route("**/*", local_only)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context):
    """A desktop-sized tab."""
    return new_context(viewport={"width": 1280, "height": 900}).new_page()


@pytest.fixture
def screenshot():
    """Save a full-page screenshot under test-artifacts/screenshots/ (kept out of git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page, name):
        page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)

    return take
