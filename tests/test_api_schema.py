"""The OpenAPI schema against the running API: every operation fuzzed with schemathesis.

Requests go through the site's WSGI application in this process, over the demo companies in the
database and in a real index, with the real embedding model. Every response must be a non-5xx,
documented status with a body and headers matching the schema; schema-valid requests must be
accepted and invalid ones rejected. Writes carry an editor's token; they run in the test's
transaction, which is rolled back, so the demo data stay as they were.
"""

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 100


@pytest.fixture(autouse=True)
def _requests_share_the_test_transaction():
    """Keep each request's database connection open, as Django's test client does.

    Otherwise the end of each request would close the connection the test's transaction (and
    so its rollback) lives on.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# Loaded from the app itself, as clients see it.
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/?format=json",
    WSGIHandler(),
    config=schemathesis.Config.from_dict(
        {
            "seed": 20240611,
            "generation": {
                "max-examples": EXAMPLES_PER_OPERATION,
                "deterministic": True,
                "database": "none",
                # NUL is refused in every text field and parameter (400), which JSON Schema
                # cannot say.
                "allow-x00": False,
            },
            "checks": {
                # 412 depends on the stored version, as 404 and 409 on the stored data: a
                # schema-valid If-Match can name a version the company is no longer at.
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "412", "429"]
                },
                "negative_data_rejection": {
                    "expected-statuses": [
                        "400",
                        "401",
                        "403",
                        "404",
                        "405",
                        "406",
                        "409",
                        "412",
                        "415",
                        "422",
                        "429",
                    ]
                },
            },
        }
    ),
)


@schema.parametrize()
# One token for every example; the embedding model makes some examples slow.
@settings(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
def test_api_conforms_to_its_schema(case, demo_companies, editor_token):
    path = case.path_parameters or {}
    if "id" in path and not case.meta.is_negative_at(ParameterLocation.PATH):
        # A valid id, turned into one of an existing company: random ones would almost all be
        # 404s, leaving reads, changes and deletes of real companies untried.
        ids = demo_companies.company_ids
        path["id"] = ids[int(path["id"]) % len(ids)]
    # The checks read bodies as sent, which the test transport does not decompress: ask for
    # them plain (the gzip-compressed map has tests of its own).
    headers = {"Accept-Encoding": "identity"}
    if case.method != "GET":
        headers["Authorization"] = f"Token {editor_token}"
    case.call_and_validate(headers=headers)
