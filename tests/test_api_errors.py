"""How the API fails and refuses: JSON error bodies everywhere under /api/, throttling, CORS,
and the schema and documentation pages."""

import logging
import re

import pytest
import yaml
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import Client

from companies.models import Company
from searchsite.settings import env_rate

pytestmark = pytest.mark.django_db


def assert_json_error(response, status):
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert isinstance(response.json()["detail"], str)


# Unknown paths, methods, bad requests ----------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
@pytest.mark.parametrize("path", ["/api/nothing/here/", "/api/companies/%C2%A1%0A/"])
def test_unknown_api_paths_are_json_404s(method, path):
    # CSRF checks on, as a browser meets them: even a POST gets the 404.
    browser = Client(enforce_csrf_checks=True)
    assert_json_error(getattr(browser, method)(path), 404)


def test_api_paths_without_their_slash_redirect_to_it(client):
    response = client.get("/api/search", {"q": "parking"})
    assert response.status_code == 301 and response["Location"] == "/api/search/?q=parking"
    assert client.get("/api/nothing").status_code == 301


def test_the_api_root_leads_to_the_documentation(client):
    response = client.get("/api/")
    assert response.status_code == 302 and response["Location"] == "/api/docs/"


def test_pages_outside_the_api_keep_html_errors(client):
    response = client.get("/companies/no-such-company/")
    assert response.status_code == 404 and "text/html" in response["Content-Type"]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_unsupported_methods_are_json_405s(client, method):
    for path in ("/api/search/", "/api/suggest/"):
        response = getattr(client, method)(path)
        assert_json_error(response, 405)
        assert response["Allow"] == "GET, HEAD, OPTIONS"


def test_unsupported_methods_on_companies_are_json_405s_for_editors(client, editor_token):
    company = Company.objects.create(name="Acme", link="https://acme.example")
    headers = {"Authorization": f"Token {editor_token}"}
    assert_json_error(client.post(f"/api/companies/{company.pk}/", headers=headers), 405)
    assert_json_error(client.delete("/api/companies/", headers=headers), 405)


def test_a_disallowed_host_is_a_json_400_under_the_api(client):
    assert_json_error(client.get("/api/search/", {"q": "x"}, headers={"host": "evil.example"}), 400)
    page = client.get("/", headers={"host": "evil.example"})
    assert page.status_code == 400 and "text/html" in page["Content-Type"]


@pytest.mark.parametrize(
    "body, message",
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"name\\udfff": "Acme", "link": "https://acme.example"}', "lone surrogate"),
        (b'{"name": "\\ud800", "link": "https://acme.example"}', "lone surrogate"),
    ],
)
def test_bodies_that_are_json_but_not_data_are_400s(client, editor_token, body, message):
    response = client.post(
        "/api/companies/",
        body,
        content_type="application/json",
        headers={"Authorization": f"Token {editor_token}"},
    )
    assert_json_error(response, 400)
    assert message in response.json()["detail"]
    assert not Company.objects.exists()


def test_nul_in_a_query_parameter_is_a_400_naming_it(client):
    response = client.get("/api/companies/", {"city": ["Berlin", "Ber\x00lin"], "ordering": "name"})
    assert response.status_code == 400
    assert response.json() == {"city": ["Null characters are not allowed."]}
    page = client.get("/search/?q=parking&city=%00")
    assert page.status_code == 400 and "text/html" in page["Content-Type"]


def test_too_many_query_parameters_is_a_json_400(client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    query = "&".join(f"p{n}=1" for n in range(20))
    assert_json_error(client.get(f"/api/search/?q=parking&{query}"), 400)


# Unexpected failures ---------------------------------------------------------------------------


@pytest.mark.urls("tests.failing_urls")
@pytest.mark.parametrize("path", ["/api/broken/", "/api/broken-plain/"])
def test_unexpected_failures_are_a_logged_json_500_without_details(path, caplog):
    browser = Client(raise_request_exception=False)
    with caplog.at_level(logging.ERROR):
        response = browser.get(path)
    assert_json_error(response, 500)
    assert "secret internals" not in response.content.decode()
    assert "Internal server error" in response.json()["detail"]
    logged = [r for r in caplog.records if r.exc_info and "secret internals" in str(r.exc_info[1])]
    assert logged, "the failure and its traceback are logged"


@pytest.mark.urls("tests.failing_urls")
def test_unexpected_failures_of_pages_keep_the_html_page():
    response = Client(raise_request_exception=False).get("/broken-page/")
    assert response.status_code == 500 and "text/html" in response["Content-Type"]


# Throttling ------------------------------------------------------------------------------------


@pytest.fixture
def tight_rates(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon_search": "3/minute", "anon_suggest": "2/minute"},
    }


def test_anonymous_searches_past_the_rate_are_429_with_retry_after(
    client, demo_companies, tight_rates
):
    statuses = [client.get("/api/search/", {"q": "parking"}).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    throttled = client.get("/api/search/", {"q": "parking"})
    assert_json_error(throttled, 429)
    assert 1 <= int(throttled["Retry-After"]) <= 60
    assert "throttled" in throttled.json()["detail"]


def test_similar_counts_as_a_search_and_suggest_has_its_own_rate(
    client, demo_companies, tight_rates
):
    spothero = Company.objects.get(name="SpotHero")
    for _ in range(3):
        assert client.get(f"/api/companies/{spothero.pk}/similar/").status_code == 200
    assert client.get("/api/search/", {"q": "parking"}).status_code == 429
    assert [client.get("/api/suggest/", {"q": "spot"}).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    assert client.get("/api/companies/").status_code == 200  # listing is not throttled


def test_signed_in_clients_are_not_throttled(client, demo_companies, tight_rates, editor_token):
    headers = {"Authorization": f"Token {editor_token}"}
    statuses = {
        client.get("/api/search/", {"q": "parking"}, headers=headers).status_code for _ in range(5)
    }
    assert statuses == {200}


def test_clients_are_throttled_by_address_not_by_forwarded_for(client, demo_companies, tight_rates):
    for n in range(3):
        client.get("/api/search/", {"q": "parking"}, headers={"x-forwarded-for": f"10.0.0.{n}"})
    assert (
        client.get(
            "/api/search/", {"q": "parking"}, headers={"x-forwarded-for": "10.0.0.99"}
        ).status_code
        == 429
    )


def test_throttling_lets_requests_through_when_its_cache_is_down(
    client, demo_companies, tight_rates, settings, caplog
):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }
    statuses = [client.get("/api/search/", {"q": "parking"}).status_code for _ in range(5)]
    assert statuses == [200] * 5
    assert "Throttle cache unavailable" in caplog.text


@pytest.mark.parametrize("value", ["60/minute", "5/s", "1000/day", "10/hour"])
def test_rates_are_read_from_the_environment(monkeypatch, value):
    monkeypatch.setenv("API_ANON_SEARCH_RATE", value)
    assert env_rate("API_ANON_SEARCH_RATE", "60/minute") == value


@pytest.mark.parametrize("value", ["sixty", "60", "60/fortnight", "-1/minute"])
def test_a_malformed_rate_stops_the_site_from_starting(monkeypatch, value):
    monkeypatch.setenv("API_ANON_SEARCH_RATE", value)
    with pytest.raises(ImproperlyConfigured, match="API_ANON_SEARCH_RATE"):
        env_rate("API_ANON_SEARCH_RATE", "60/minute")


# CORS ------------------------------------------------------------------------------------------


def test_no_cors_headers_unless_origins_are_configured(client):
    response = client.get("/api/suggest/", {"q": "spot"}, headers={"origin": "https://app.example"})
    assert "Access-Control-Allow-Origin" not in response
    preflight = client.options(
        "/api/companies/",
        headers={
            "origin": "https://app.example",
            "access-control-request-method": "POST",
        },
    )
    assert "Access-Control-Allow-Origin" not in preflight


def test_configured_origins_may_call_the_api_only(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example"]
    allowed = client.get("/api/suggest/", {"q": "spot"}, headers={"origin": "https://app.example"})
    assert allowed["Access-Control-Allow-Origin"] == "https://app.example"
    other = client.get("/api/suggest/", {"q": "spot"}, headers={"origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other
    page = client.get("/", headers={"origin": "https://app.example"})
    assert "Access-Control-Allow-Origin" not in page


# Schema and documentation ----------------------------------------------------------------------


def test_the_schema_is_valid_openapi_without_generator_warnings(tmp_path):
    # --fail-on-warn: every view, parameter and response was understood, none guessed.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", tmp_path / "api.yaml")
    schema = yaml.safe_load((tmp_path / "api.yaml").read_text())
    assert schema["openapi"].startswith("3.")


def test_the_schema_describes_every_endpoint(client):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    operations = {(path, method) for path, item in schema["paths"].items() for method in item}
    assert operations == {
        ("/api/search/", "get"),
        ("/api/suggest/", "get"),
        ("/api/companies/", "get"),
        ("/api/companies/", "post"),
        ("/api/companies/{id}/", "get"),
        ("/api/companies/{id}/", "put"),
        ("/api/companies/{id}/", "patch"),
        ("/api/companies/{id}/", "delete"),
        ("/api/companies/{id}/similar/", "get"),
        ("/api/curations/", "get"),
        ("/api/curations/", "post"),
        ("/api/curations/{id}/", "get"),
        ("/api/curations/{id}/", "put"),
        ("/api/curations/{id}/", "patch"),
        ("/api/curations/{id}/", "delete"),
        ("/api/map/", "get"),
    }
    search = schema["paths"]["/api/search/"]["get"]
    city = next(p for p in search["parameters"] if p["name"] == "city")
    assert city["schema"]["type"] == "array"  # repeated: ?city=a&city=b
    assert set(search["responses"]) == {"200", "400", "401", "405", "406", "429", "503"}
    assert "Retry-After" in search["responses"]["429"]["headers"]
    create = schema["paths"]["/api/companies/"]["post"]
    assert set(create["responses"]) == {
        "201",
        "400",
        "401",
        "403",
        "405",
        "406",
        "409",
        "413",
        "415",
    }
    assert {"tokenAuth": []} in create["security"] and {} not in create["security"]
    request_body = schema["components"]["schemas"]["CompanyRequest"]
    assert request_body["required"] == ["link", "name"]
    assert request_body["additionalProperties"] is False
    assert "index_status" not in request_body["properties"]


def test_the_schema_is_served_as_json_too(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200 and response.json()["info"]["title"] == "startup-search API"


def test_the_documentation_page_uses_only_local_assets(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/api/schema/" in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(asset.startswith("/static/") for asset in assets), assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_every_response_field_is_required_in_the_schema(client):
    """Every field of every response body is always sent, so the schema says so: clients may
    rely on ``required``, and generated client types need no optional fields."""
    schema = yaml.safe_load(client.get("/api/schema/").content)
    components = schema["components"]["schemas"]
    response_refs = {
        content["schema"].get("$ref", content["schema"].get("items", {}).get("$ref"))
        for item in schema["paths"].values()
        for operation in item.values()
        for response in operation["responses"].values()
        for content in response.get("content", {}).values()
    }
    names = {ref.rsplit("/", 1)[1] for ref in response_refs if ref}
    pending = list(names)
    while pending:  # and the components they hold
        for value in components[pending.pop()].get("properties", {}).values():
            ref = value.get("$ref") or value.get("items", {}).get("$ref")
            if ref and ref.rsplit("/", 1)[1] not in names:
                names.add(ref.rsplit("/", 1)[1])
                pending.append(ref.rsplit("/", 1)[1])
    assert {"Company", "PaginatedCompanyList", "SearchResults", "SearchHit", "Facets"} <= names
    assert {"CityFacet", "SimilarResults", "Suggestions", "Suggestion", "Error"} <= names
    for name in names:
        properties = components[name].get("properties")
        if properties:
            assert sorted(components[name].get("required", [])) == sorted(properties), name


@pytest.mark.parametrize(
    "path", ["/api/companies/", "/api/companies/{pk}/", "/api/search/?q=x", "/api/suggest/?q=x"]
)
@pytest.mark.parametrize("accept", ["text/html", "application/xml", "image/png"])
def test_an_accept_header_without_json_is_a_json_406(client, path, accept):
    company = Company.objects.create(name="Acme", link="https://acme.example")
    response = client.get(path.format(pk=company.pk), headers={"Accept": accept})
    assert_json_error(response, 406)


@pytest.mark.parametrize(
    "method, path",
    [
        ("post", "/api/"),
        ("delete", "/api/"),
        ("post", "/api/schema/"),
        ("delete", "/api/docs/"),
        ("patch", "/api/companies/"),
        ("put", "/api/companies/{pk}/similar/"),
    ],
)
def test_a_wrong_method_on_any_api_path_is_a_json_405(client, editor_token, method, path):
    company = Company.objects.create(name="Acme", link="https://acme.example")
    headers = {"Authorization": f"Token {editor_token}"}
    response = getattr(client, method)(path.format(pk=company.pk), headers=headers)
    assert_json_error(response, 405)
    assert response["Allow"]


def test_the_schema_and_its_page_answer_json_errors_too(client):
    assert_json_error(client.get("/api/schema/", headers={"Accept": "text/html"}), 406)
    assert_json_error(client.get("/api/docs/", headers={"Accept": "application/json"}), 406)


@pytest.mark.parametrize("path", ["/api/search/", "/api/suggest/"])
@pytest.mark.parametrize("q", ["\u200b", "\u3164\u2800", "\u00ad "])
def test_a_query_that_shows_nothing_is_a_400(client, path, q):
    response = client.get(path, {"q": q})
    assert response.status_code == 400
    assert "q" in response.json()
