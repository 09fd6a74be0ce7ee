"""/readyz checks a real Redis broker when indexing goes through Celery."""

import pytest

from searchsite.celery import app as celery_app

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_ready_with_the_broker_up(client, celery_sync, search_store):
    body = client.get("/readyz").json()
    assert body["checks"]["broker"]["status"] == "ok"
    assert body["status"] == "ready"


def test_not_ready_once_the_broker_stops(client, own_redis, celery_sync, search_store):
    celery_app.conf.broker_url = own_redis.url
    celery_app.close()
    assert client.get("/readyz").status_code == 200
    own_redis.stop()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == {
        "status": "error",
        "error": "OperationalError",
        "ms": response.json()["checks"]["broker"]["ms"],
    }
    own_redis.start()
    assert client.get("/readyz").status_code == 200
