"""The search log and the click beacon: rows written off the request path, polled for here.

These tests commit (transaction=True): the log's writer thread has a database connection of its
own and sees only committed data, as in production.
"""

import io
import re
import time
import uuid
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from companies import searchlog
from companies.models import MAX_QUERY_KEY, Company, SearchClick, SearchLog
from companies.searchlog import LogWriter
from companies.tasks import purge_search_log_task
from tests.factories import make_company

pytestmark = pytest.mark.django_db(transaction=True)
CLICK_URL = "/search/click/"


def wait_for(condition, timeout=15):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the search log")
        time.sleep(0.02)


@pytest.fixture
def log_on(settings):
    settings.SEARCH_LOG_ENABLED = True
    yield
    assert searchlog.writer.flush(timeout=15)


@pytest.fixture
def indexed(search_store):
    """Three companies, indexed in a fresh store."""
    companies = [
        make_company(
            "Parkly", description="Reserve a parking spot from your phone.", city="Chicago"
        ),
        make_company("Spotbox", description="An app to book parking garages.", city="Boston"),
        make_company("Cookery", description="Recipes and cooking classes.", city="Chicago"),
    ]
    return companies


def test_page_and_api_searches_are_logged_without_who_searched(client, log_on, indexed):
    page = client.get("/search/", {"q": "  Parking-Spot! ", "mode": "keyword", "city": "chicago"})
    assert page.status_code == 200
    api = client.get(
        "/api/search/", {"q": "cooking", "mode": "semantic"}, HTTP_USER_AGENT="probe/1"
    )
    assert api.status_code == 200
    client.get("/search/", {"q": "zzzqqq nothing", "mode": "keyword"})
    wait_for(lambda: SearchLog.objects.count() == 3)

    by_query = {row.query: row for row in SearchLog.objects.all()}
    parking = by_query["parking spot"]
    assert (parking.mode, parking.surface, parking.cities) == ("keyword", "page", ["chicago"])
    assert parking.count == 1 and parking.result_ids == [indexed[0].pk]
    assert parking.latency_ms > 0 and parking.offset == 0
    assert re.search(rf'data-search-id="{parking.search_id}"', page.content.decode())
    cooking = by_query["cooking"]
    assert (cooking.mode, cooking.surface) == ("semantic", "api") and cooking.count >= 1
    assert by_query["zzzqqq nothing"].count == 0
    # Nothing about the visitor is a column.
    fields = {field.name for field in SearchLog._meta.get_fields()}
    assert not fields & {"ip", "ip_address", "user_agent", "user", "session"}


def test_invalid_searches_are_not_logged(client, log_on, indexed):
    assert client.get("/search/", {"q": "x" * 2000}).status_code == 400
    assert client.get("/api/search/", {"q": "parking", "mode": "nope"}).status_code == 400
    client.get("/search/", {"q": "parking"})
    wait_for(lambda: SearchLog.objects.exists())
    assert list(SearchLog.objects.values_list("query", flat=True)) == ["parking"]


def test_nothing_is_logged_when_the_log_is_off(client, settings, indexed):
    settings.SEARCH_LOG_ENABLED = False
    client.get("/search/", {"q": "parking"})
    client.get("/api/search/", {"q": "parking"})
    searchlog.writer.flush(timeout=5)
    assert not SearchLog.objects.exists()


def test_a_full_queue_drops_and_counts_instead_of_waiting(db):
    writer = LogWriter(maxsize=2)
    writer._start = lambda: None  # no writer thread: the queue only fills
    rows = [log_row(f"q{i}") for i in range(5)]
    started = time.perf_counter()
    for row in rows:
        writer.put(row)
    assert time.perf_counter() - started < 0.05
    assert writer.dropped == 3
    assert writer.flush(timeout=5)  # as at exit: written from the calling thread
    assert sorted(SearchLog.objects.values_list("query", flat=True)) == ["q0", "q1"]


def test_rows_are_written_in_batches(db):
    writer = LogWriter(maxsize=5000)
    for i in range(1200):
        writer.put(log_row(f"q{i}"))
    assert writer.flush(timeout=30)
    assert SearchLog.objects.count() == 1200 and writer.written == 1200 and writer.dropped == 0


def test_a_row_the_database_refuses_does_not_take_its_batch_with_it(db):
    writer = LogWriter(maxsize=100)
    writer._start = lambda: None  # written from this thread, in one batch
    refused = log_row("refused")
    refused.mode = None  # NOT NULL, on every database
    for row in (log_row("before"), refused, log_row("after")):
        writer.put(row)
    assert writer.flush(timeout=5)
    assert sorted(SearchLog.objects.values_list("query", flat=True)) == ["after", "before"]
    assert (writer.written, writer.dropped) == (2, 1)


def test_the_periodic_task_purges_rows_older_than_the_retention(settings, db):
    settings.SEARCH_LOG_DAYS = 30
    now = timezone.now()
    SearchLog.objects.bulk_create(
        [log_row("old", now - timedelta(days=31)), log_row("new", now - timedelta(days=29))]
    )
    SearchClick.objects.bulk_create(
        [click_row(now - timedelta(days=40)), click_row(now - timedelta(days=1))]
    )
    assert purge_search_log_task() == {"searches": 1, "clicks": 1}
    assert list(SearchLog.objects.values_list("query", flat=True)) == ["new"]
    assert SearchClick.objects.count() == 1


def log_row(query, created_at=None):
    return SearchLog(
        search_id=uuid.uuid4(),
        query=query,
        mode="hybrid",
        count=1,
        latency_ms=1.0,
        surface="page",
        created_at=created_at or timezone.now(),
    )


def click_row(created_at):
    return SearchClick(
        search_id=uuid.uuid4(),
        query="q",
        company_id=1,
        position=1,
        target="page",
        created_at=created_at,
    )


# Clicks ----------------------------------------------------------------------------------------


@pytest.fixture
def companies(db):
    Company.objects.bulk_create(
        Company(name=f"Company {i}", slug=f"company-{i}", city="Chicago") for i in range(3)
    )
    return list(Company.objects.order_by("pk"))


def click(client, address="127.0.0.1", **fields):
    body = {"search": str(uuid.uuid4()), "q": "Parking App", "position": "2", "target": "page"}
    return client.post(CLICK_URL, {**body, **fields}, REMOTE_ADDR=address)


def test_a_click_is_logged(client, log_on, companies):
    search_id = uuid.uuid4()
    response = click(client, search=str(search_id), company=str(companies[1].pk))
    assert response.status_code == 204 and response.content == b""
    wait_for(lambda: SearchClick.objects.exists())
    row = SearchClick.objects.get()
    assert (row.search_id, row.query, row.company_id, row.position, row.target) == (
        search_id,
        "parking app",
        companies[1].pk,
        2,
        "page",
    )


def test_a_query_that_normalising_lengthens_is_logged_cut_to_its_column(client, log_on, companies):
    """ "\ufdfa" is 18 characters once normalised: 60 of them, sent as 60, are logged as the
    column's 1,000, and the clicks around it are logged too (on PostgreSQL the longer key was
    refused, and its whole batch with it)."""
    for query in ("parking", "\ufdfa" * 60, "fintech"):
        assert click(client, q=query, company=str(companies[0].pk)).status_code == 204
    assert searchlog.writer.flush(timeout=15)
    logged = sorted(SearchClick.objects.values_list("query", flat=True), key=len)
    assert sorted(logged[:2]) == ["fintech", "parking"] and len(logged[2]) == MAX_QUERY_KEY


def test_the_results_page_gives_its_links_what_the_beacon_sends(client, indexed):
    html = client.get("/search/", {"q": "parking", "mode": "keyword"}).content.decode()
    assert 'data-click-url="/search/click/"' in html
    cards = re.findall(r'<li class="card[^"]*" data-company="(\d+)" data-position="(\d+)">', html)
    assert [int(position) for _, position in cards] == list(range(1, len(cards) + 1))
    # The links stay plain links: to the company page and to the website.
    assert f'href="{indexed[0].get_absolute_url()}"' in html


BAD_CLICKS = [
    ({"company": "COMPANY", "search": "not-a-uuid"}, 400),
    ({"company": "COMPANY", "position": "0"}, 400),
    ({"company": "COMPANY", "position": "-3"}, 400),
    ({"company": "COMPANY", "position": "1001"}, 400),
    ({"company": "COMPANY", "position": "two"}, 400),
    ({"company": "COMPANY", "target": "elsewhere"}, 400),
    ({"company": "COMPANY", "q": ""}, 400),
    ({"company": "COMPANY", "q": "x" * 1000}, 400),
    ({"company": "COMPANY", "q": "park\x00ing"}, 400),
    ({"company": "999999999"}, 400),
    ({"company": str(2**70)}, 400),
    ({"company": "1e3"}, 400),
    ({}, 400),
]


@pytest.mark.parametrize("fields, status", BAD_CLICKS)
def test_bad_clicks_are_refused_and_log_nothing(client, log_on, companies, fields, status):
    fields = {k: str(companies[0].pk) if v == "COMPANY" else v for k, v in fields.items()}
    before = list(Company.objects.values())
    assert click(client, **fields).status_code == status
    searchlog.writer.flush(timeout=5)
    assert not SearchClick.objects.exists()
    assert list(Company.objects.values()) == before


def test_other_methods_oversized_and_odd_bodies_never_answer_500(client, log_on, companies):
    assert client.get(CLICK_URL).status_code == 405
    assert client.put(CLICK_URL, "x").status_code == 405
    huge = {"search": str(uuid.uuid4()), "q": "x" * 5000, "company": "1", "position": "1"}
    assert client.post(CLICK_URL, huge).status_code == 413
    odd = [
        ("application/json", b'{"company": 1}'),
        ("text/plain", b"\xff\xfe\x00garbage"),
        ("application/x-www-form-urlencoded", b"%%%&&&==="),
        ("multipart/form-data; boundary=zz", b"--zz\r\nbroken"),
    ]
    for content_type, body in odd:
        assert client.post(CLICK_URL, body, content_type=content_type).status_code == 400
    response = client.post(CLICK_URL, "x", content_type="text/plain", HTTP_CONTENT_LENGTH="abc")
    assert response.status_code in (400, 413)
    searchlog.writer.flush(timeout=5)
    assert not SearchClick.objects.exists()


def test_clicks_are_throttled_per_address(client, log_on, settings, companies):
    settings.SEARCH_CLICK_RATE = 3
    statuses = [click(client, company=str(companies[0].pk)).status_code for _ in range(5)]
    assert statuses == [204, 204, 204, 429, 429]
    other = click(client, company=str(companies[0].pk), address="10.0.0.9")
    assert other.status_code == 204
    wait_for(lambda: SearchClick.objects.count() == 4)


def test_the_beacon_needs_no_csrf_token(companies, log_on):
    from django.test import Client

    response = click(Client(enforce_csrf_checks=True), company=str(companies[0].pk))
    assert response.status_code == 204


def test_the_purge_command_says_what_it_deleted(db):
    now = timezone.now()
    SearchLog.objects.bulk_create([log_row("old", now - timedelta(days=8)), log_row("new", now)])
    out = io.StringIO()
    call_command("purge_search_log", "--days", "7", stdout=out)
    assert out.getvalue().strip() == (
        "Search log: 1 searches and 0 clicks older than 7 days deleted."
    )
    assert list(SearchLog.objects.values_list("query", flat=True)) == ["new"]
    with pytest.raises(CommandError):
        call_command("purge_search_log", "--days", "-1")
