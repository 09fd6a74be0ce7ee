"""Health probes for load balancers and container health checks, both JSON.

- ``GET /healthz``, liveness: the process answers requests. It touches nothing else, so a
  database or index outage never gets a healthy web process restarted.
- ``GET /readyz``, readiness: this process can do its work. It checks the database, the embedding
  model (loaded and embedding), the search store (reachable, and built for this model and recipe)
  and, when indexing goes through Celery, the broker. 200 when all pass, else 503; each check
  says ``ok`` or the type of its error (the details go to the log, not to the public).

The middleware answers them before any other: host validation (an orchestrator probes by IP
address, not by a name in ``ALLOWED_HOSTS``), the HTTPS redirect, sessions and throttling do not
apply. The embedded store is checked in this process, which owns it anyway: the check opens it as
the first search would and holds nothing afterwards.
"""

import logging
import time

from django.db import connection
from django.http import JsonResponse

from .search import embedding
from .search.engines import get_store
from .search.indexing import recipe_metadata
from .search.store import StoreIncompatible, incompatibility
from .signals import CelerySignalProcessor, signal_processor

logger = logging.getLogger(__name__)

LIVENESS_PATH = "/healthz"
READINESS_PATH = "/readyz"


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_model():
    embedding.embed_documents(["readiness check"])


def check_store():
    have = get_store().metadata()
    problem = have is not None and incompatibility(have, recipe_metadata())
    if problem:
        raise StoreIncompatible(problem)


def check_broker():
    from searchsite.celery import app

    with app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=0)


def readiness_checks():
    checks = {"database": check_database, "model": check_model, "store": check_store}
    if isinstance(signal_processor(), CelerySignalProcessor):
        checks["broker"] = check_broker
    return checks


def run_check(name, check):
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # any failure means not ready; which one is logged
        logger.warning(
            "Readiness check %s failed: %s",
            name,
            exc,
            extra={
                "event": "readiness_check_failed",
                "check": name,
                "error": str(exc),
            },
        )
        result = {"status": "error", "error": type(exc).__name__}
    else:
        result = {"status": "ok"}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def liveness():
    return JsonResponse({"status": "alive"})


def readiness():
    results = {name: run_check(name, check) for name, check in readiness_checks().items()}
    ready = all(result["status"] == "ok" for result in results.values())
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": results},
        status=200 if ready else 503,
    )


PROBES = {LIVENESS_PATH: liveness, READINESS_PATH: readiness}


class HealthCheckMiddleware:
    """Answers the probes ahead of every other middleware (see the module's docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info)
        if probe is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = JsonResponse(
                {"detail": f'Method "{request.method}" not allowed.'}, status=405
            )
            response["Allow"] = "GET, HEAD"
        else:
            response = probe()
        if request.method == "HEAD":
            response.content = b""
        response["Cache-Control"] = "no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response
