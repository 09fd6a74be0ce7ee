"""Security: writes need authentication everywhere, every form checks CSRF, errors show no
internals with DEBUG off, and the security headers are sent."""

import re

import pytest
from django.conf import settings as django_settings
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token, TokenProxy

from companies.models import Company
from tests.bad_input import table_checksum
from tests.factories import make_company

pytestmark = pytest.mark.django_db

CSRF_FAILURE = "CSRF verification failed"


@pytest.fixture
def company(search_store):
    return make_company("Zephyr Labs", description="Quantum computing.")


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", password="root-password")


def instances(superuser, company):
    """One object of each model the admin manages."""
    return {
        Company: company,
        django_settings.AUTH_USER_MODEL: superuser,
        Group: Group.objects.create(name="editors"),
        TokenProxy: Token.objects.create(user=superuser),
    }


def admin_forms(superuser, company):
    """The URL of every form the admin has: site-wide ones, and add, change, delete and the
    list's actions of each registered model, plus the company import."""
    objects = instances(superuser, company)
    urls = [
        reverse("admin:login"),
        reverse("admin:password_change"),
        reverse("admin:companies_company_import"),
        reverse("admin:auth_user_password_change", args=[superuser.pk]),
    ]
    for model in admin.site._registry:
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        obj = objects.get(model) or objects[django_settings.AUTH_USER_MODEL]
        urls += [
            reverse(f"{info}_add"),
            reverse(f"{info}_changelist"),
            reverse(f"{info}_change", args=[obj.pk]),
            reverse(f"{info}_delete", args=[obj.pk]),
        ]
    return urls + [reverse("admin:logout")]  # last: signs the user out


# Authentication --------------------------------------------------------------------------------

API_WRITES = [
    ("post", "/api/companies/"),
    ("put", "/api/companies/{pk}/"),
    ("patch", "/api/companies/{pk}/"),
    ("delete", "/api/companies/{pk}/"),
]
BODY = {"name": "Intruder", "link": "https://intruder.example"}


@pytest.mark.parametrize("method, path", API_WRITES)
def test_api_writes_need_credentials(client, company, method, path):
    before = table_checksum()
    response = getattr(client, method)(
        path.format(pk=company.pk), BODY, content_type="application/json"
    )
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert table_checksum() == before


@pytest.mark.parametrize("method, path", API_WRITES)
def test_api_writes_need_the_permission(client, company, django_user_model, method, path):
    user = django_user_model.objects.create_user("reader")
    user.user_permissions.set(Permission.objects.filter(codename="view_company"))
    token = Token.objects.create(user=user).key
    before = table_checksum()
    response = getattr(client, method)(
        path.format(pk=company.pk),
        BODY,
        content_type="application/json",
        headers={"Authorization": f"Token {token}"},
    )
    assert response.status_code == 403
    assert table_checksum() == before


@pytest.mark.parametrize("token", ["", "nonsense", "0" * 40, "Bearer x"])
def test_an_invalid_token_is_401(client, company, token):
    response = client.post(
        "/api/companies/",
        BODY,
        content_type="application/json",
        headers={"Authorization": f"Token {token}"},
    )
    assert response.status_code == 401


def test_admin_writes_need_a_signed_in_staff_user(client, company, superuser, django_user_model):
    before = table_checksum()
    forms = [
        url
        for url in admin_forms(superuser, company)
        if url not in (reverse("admin:login"), reverse("admin:logout"))
    ]
    not_staff = django_user_model.objects.create_user("visitor", password="pw")
    for who in (None, not_staff):
        visitor = Client()
        if who:
            visitor.force_login(who)
        for url in forms:
            response = visitor.post(
                url,
                {
                    "name": "Intruder",
                    "action": "delete_selected",
                    "_selected_action": [company.pk],
                    "post": "yes",
                },
            )
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("admin:login")), url
    assert table_checksum() == before
    assert Company.objects.filter(pk=company.pk).exists()


def test_admin_writes_need_the_permission(company, django_user_model):
    staff = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename="view_company"))
    browser = Client()
    browser.force_login(staff)
    before = table_checksum()
    for url in (
        reverse("admin:companies_company_add"),
        reverse("admin:companies_company_change", args=[company.pk]),
        reverse("admin:companies_company_delete", args=[company.pk]),
        reverse("admin:companies_company_import"),
    ):
        assert browser.post(url, {"name": "Intruder", "post": "yes"}).status_code == 403, url
    browser.post(
        reverse("admin:companies_company_changelist"),
        {"action": "delete_selected", "_selected_action": [company.pk], "post": "yes"},
    )
    assert table_checksum() == before


# CSRF ------------------------------------------------------------------------------------------


def test_every_admin_form_refuses_a_post_without_its_csrf_token(company, superuser):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(superuser)
    before = table_checksum()
    forms = admin_forms(superuser, company)
    assert len(forms) >= 20
    for url in forms:
        response = browser.post(url, {"name": "Intruder", "post": "yes"})
        assert response.status_code == 403 and CSRF_FAILURE in response.content.decode(), url
    assert table_checksum() == before
    assert Company.objects.filter(pk=company.pk).exists()


def test_admin_forms_accept_the_post_with_its_token(company, superuser):
    """The 403s above are the CSRF check's: the same posts with the token get through it."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(superuser)
    browser.get(reverse("admin:companies_company_add"))
    token = browser.cookies["csrftoken"].value
    for url in admin_forms(superuser, company):
        response = browser.post(url, {"csrfmiddlewaretoken": token})
        assert response.status_code != 403, url


def test_the_login_form_checks_csrf(superuser):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(
        reverse("admin:login"), {"username": "root", "password": "root-password"}
    )
    assert response.status_code == 403
    assert "_auth_user_id" not in browser.session


def test_session_writes_to_the_api_need_the_csrf_header(company, superuser):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(superuser)
    refused = browser.post("/api/companies/", BODY, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    browser.get(reverse("admin:index"))
    accepted = browser.post(
        "/api/companies/",
        BODY,
        content_type="application/json",
        headers={"X-CSRFToken": browser.cookies["csrftoken"].value},
    )
    assert accepted.status_code == 201


def test_the_public_pages_have_no_post_forms(client, company):
    for url in ("/", "/search/?q=quantum", company.get_absolute_url()):
        html = client.get(url).content.decode()
        assert "<form" in html or url == company.get_absolute_url()
        assert not re.search(r'<form[^>]*method="post"', html, re.IGNORECASE), url


# No internals in errors ------------------------------------------------------------------------


def test_real_server_errors_show_no_internals(company, superuser):
    """The companies table gone (inside the test's transaction): real database errors on
    every kind of page, none of which may show the query, the table, a traceback or a key."""
    assert django_settings.DEBUG is False
    admin_browser = Client(raise_request_exception=False)
    admin_browser.force_login(superuser)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE companies_company RENAME TO companies_gone")
    responses = {
        url: (
            admin_browser if url.startswith("/admin/") else Client(raise_request_exception=False)
        ).get(url)
        for url in (
            "/",
            "/search/?q=quantum",
            company.get_absolute_url(),
            "/api/companies/",
            f"/api/companies/{company.pk}/",
            "/api/suggest/?q=zep",
            reverse("admin:companies_company_changelist"),
        )
    }
    for url, response in responses.items():
        body = response.content.decode()
        assert response.status_code == 500, url
        for leak in (
            "Traceback",
            "companies_company",
            "SELECT",
            "no such table",
            django_settings.SECRET_KEY,
            'File "',
            "OperationalError",
        ):
            assert leak not in body, (url, leak)


def test_not_found_pages_do_not_list_the_urls(client):
    body = client.get("/no/such/page/").content.decode()
    assert "URLconf" not in body and "api/" not in body


# Headers and HTTPS -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/", "/api/search/?q=quantum", "/api/companies/", "/admin/login/", "/api/docs/"]
)
def test_security_headers_are_set(client, company, url):
    response = client.get(url)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.fixture
def production_https(settings):
    """The HTTPS settings production defaults to (tests/test_production_settings.py)."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 365 * 24 * 3600
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def test_hsts_only_over_https(production_https, company):
    browser = Client()
    secure = browser.get("/", secure=True)
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    proxied = browser.get("/", headers={"x-forwarded-proto": "https"})
    assert proxied.status_code == 200 and "Strict-Transport-Security" in proxied
    plain = browser.get("/search/?q=quantum")
    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/search/?q=quantum"
    assert "Strict-Transport-Security" not in plain


def test_cookies_are_https_only_and_hidden_from_scripts(production_https, superuser):
    browser = Client()
    browser.get(reverse("admin:login"), secure=True)
    token = browser.cookies["csrftoken"].value
    browser.post(
        reverse("admin:login"),
        {"username": "root", "password": "root-password", "csrfmiddlewaretoken": token},
        secure=True,
    )
    session, csrf = browser.cookies["sessionid"], browser.cookies["csrftoken"]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"
    assert csrf["secure"]
