"""GET /healthz (liveness) and GET /readyz (readiness), as container health checks call them."""

import json
import subprocess
import sys

import pytest
from django.test import Client

from companies.search.engines import get_store
from companies.search.indexing import index_metadata
from tests.helpers import ROOT, production_env, search_settings, store_held_elsewhere

pytestmark = pytest.mark.django_db


def store_down(settings):
    """Point the site at a Qdrant address where nothing listens."""
    settings.COMPANY_SEARCH = search_settings(
        QDRANT_URL="http://127.0.0.1:9", QDRANT_API_KEY="qdrant-key-never-shown"
    )


def test_liveness_touches_nothing_but_the_process(client, settings, django_assert_num_queries):
    store_down(settings)
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "alive"}
    assert response["Cache-Control"] == "no-store"


def test_readiness_checks_database_model_and_store(client, search_store):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "model", "store"}  # no broker without Celery
    assert all(check["status"] == "ok" and check["ms"] >= 0 for check in body["checks"].values())


@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")
def test_readiness_fails_with_the_store_down_and_names_only_the_error_type(
    client, settings, caplog
):
    store_down(settings)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["store"] == {
        "status": "error",
        "error": "StoreUnavailable",
        "ms": body["checks"]["store"]["ms"],
    }
    assert body["checks"]["database"]["status"] == body["checks"]["model"]["status"] == "ok"
    # The details are logged instead: neither the address nor the key is shown.
    assert "127.0.0.1:9" not in response.content.decode()
    assert "qdrant-key-never-shown" not in response.content.decode()
    logged = [r for r in caplog.records if getattr(r, "event", "") == "readiness_check_failed"]
    assert logged and logged[0].check == "store" and "unavailable" in logged[0].error


def test_readiness_fails_when_the_index_was_built_for_another_recipe(client, search_store):
    search_store.drop()
    search_store.ensure_index({**index_metadata(), "recipe": -1})
    body = client.get("/readyz").json()
    assert body["checks"]["store"]["error"] == "StoreIncompatible"


def test_readiness_fails_while_another_process_holds_the_embedded_store(client, search_store):
    with store_held_elsewhere(search_store):
        body = client.get("/readyz").json()
    assert body["checks"]["store"]["error"] == "StoreUnavailable"


def test_readiness_checks_the_broker_when_indexing_goes_through_celery(client, broker_down):
    body = client.get("/readyz").json()
    assert body["checks"]["broker"]["status"] == "error"
    assert body["status"] == "unavailable"


def test_readiness_leaves_the_embedded_store_usable_by_the_site(client, demo_companies):
    store = get_store()
    assert client.get("/readyz").status_code == 200
    assert get_store() is store  # the process's own store, still open
    results = client.get("/api/search/", {"q": "reserve parking"}).json()["results"]
    assert results[0]["name"] == "SpotHero"
    assert client.get("/readyz").status_code == 200


def test_probes_answer_any_host_and_skip_the_https_redirect(settings, search_store):
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    # An orchestrator probes a container by its address, which ALLOWED_HOSTS need not list.
    for path in ("/healthz", "/readyz"):
        assert client.get(path, headers={"host": "10.1.2.3:8000"}).status_code == 200
    assert client.get("/", headers={"host": "10.1.2.3:8000"}).status_code == 400
    assert client.get("/").status_code == 301


def test_probes_take_get_and_head_only(client):
    head = client.head("/healthz")
    assert head.status_code == 200 and head.content == b""
    refused = client.post("/readyz")
    assert refused.status_code == 405 and refused["Allow"] == "GET, HEAD"
    assert refused.json()["detail"]


def test_readiness_of_a_process_whose_database_is_down(tmp_path):
    """A real process with an unreachable PostgreSQL: /healthz 200, /readyz 503, and the failure
    logged as a JSON line with its fields (production logs)."""
    script = (
        "from django.test import Client\n"
        "client = Client()\n"
        "ready = client.get('/readyz')\n"
        "print(client.get('/healthz').status_code, ready.status_code, ready.content.decode())\n"
    )
    env = production_env(
        tmp_path,
        DATABASE_URL="postgres://user:db-password@127.0.0.1:9/x",
        ALLOWED_HOSTS="testserver",
        EMBEDDING_MODEL_DIR=str(ROOT / "var" / "models" / "all-MiniLM-L6-v2"),
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "--no-imports", "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    live, ready, body = result.stdout.split(" ", 2)
    assert (live, ready) == ("200", "503"), result.stderr
    checks = json.loads(body)["checks"]
    assert checks["database"]["status"] == "error" and checks["model"]["status"] == "ok"
    assert "db-password" not in body
    logged = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    failure = next(entry for entry in logged if entry.get("event") == "readiness_check_failed")
    assert failure["check"] == "database" and failure["level"] == "WARNING"
    assert "127.0.0.1" in failure["error"]
