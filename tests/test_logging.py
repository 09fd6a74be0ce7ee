"""Indexing and search failures are logged with fields (event, company ids, error), which the
JSON format (LOG_FORMAT=json) writes out one object per line."""

import json
import logging
import sys

import pytest

from companies.models import Company
from searchsite.log_format import JsonFormatter
from tests.factories import make_company
from tests.helpers import search_settings

pytestmark = pytest.mark.django_db


def json_lines(records):
    return [json.loads(JsonFormatter().format(record)) for record in records]


def events(caplog, name):
    return [entry for entry in json_lines(caplog.records) if entry.get("event") == name]


def test_a_record_becomes_one_json_object_with_its_fields():
    try:
        raise RuntimeError("store fell over")
    except RuntimeError:
        record = logging.getLogger("companies").makeRecord(
            "companies",
            logging.ERROR,
            __file__,
            1,
            "Could not index companies %s",
            ([3, 4],),
            sys.exc_info(),
            extra={
                "event": "index_run_failed",
                "company_ids": [3, 4],
                "error": "store fell over",
                "when": object(),
            },
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "companies"
    assert entry["message"] == "Could not index companies [3, 4]"
    assert entry["event"] == "index_run_failed" and entry["company_ids"] == [3, 4]
    assert entry["error"] == "store fell over" and entry["when"].startswith("<object")
    assert "RuntimeError: store fell over" in entry["traceback"]
    assert entry["time"].endswith("+00:00")


def test_any_text_can_be_written():
    record = logging.makeLogRecord({"msg": "query \ud800 \u202e\x00", "levelname": "WARNING"})
    line = JsonFormatter().format(record)
    assert line.isascii() and json.loads(line)["message"] == "query \ud800 \u202e\x00"


def test_an_indexing_failure_is_logged_with_the_companies_and_the_error(
    settings, caplog, django_capture_on_commit_callbacks
):
    settings.COMPANY_SEARCH = search_settings(QDRANT_URL="http://127.0.0.1:9")
    with django_capture_on_commit_callbacks(execute=True):
        company = make_company("Zephyr Labs", description="Quantum computing.")
    [failed] = events(caplog, "index_failed")
    assert failed["company_ids"] == [company.pk] and failed["level"] == "WARNING"
    assert "unavailable" in failed["error"]
    [run] = events(caplog, "index_run_failed")
    assert run["company_ids"] == [company.pk] and "StoreUnavailable" in run["traceback"]
    assert Company.objects.get(pk=company.pk).index_error == failed["error"]


def test_a_search_failure_is_logged_with_the_mode_and_the_fallback(
    client, settings, caplog, demo_companies
):
    settings.COMPANY_SEARCH = search_settings(QDRANT_URL="http://127.0.0.1:9")
    assert client.get("/search/", {"q": "parking", "mode": "semantic"}).status_code == 200
    assert client.get("/api/search/", {"q": "parking"}).status_code == 503
    page, api = events(caplog, "search_failed")
    assert page["mode"] == "semantic" and page["fallback"] == "database"
    assert api["view"] == "SearchView" and "unavailable" in api["error"]


def test_a_failed_similar_look_up_names_the_company(client, settings, caplog, demo_companies):
    company = Company.objects.get(name="SpotHero")
    settings.COMPANY_SEARCH = search_settings(QDRANT_URL="http://127.0.0.1:9")
    assert client.get(company.get_absolute_url()).status_code == 200
    [failed] = events(caplog, "similar_failed")
    assert failed["company_ids"] == [company.pk]


def test_a_broker_failure_is_logged_with_the_task_and_companies(
    broker_down, caplog, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        company = make_company("Zephyr Labs")
    [failed] = events(caplog, "index_queue_failed")
    assert failed["task"] == "companies.index" and failed["company_ids"] == [company.pk]
