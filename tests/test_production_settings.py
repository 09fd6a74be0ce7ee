"""Production mode: what the settings refuse, what they default to, and a clean deploy check."""

import runpy
import secrets

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.helpers import ROOT, SETTINGS_VARIABLES, STRONG_KEY, manage, production_env

SETTINGS = ROOT / "searchsite" / "settings.py"


@pytest.fixture
def load_settings(monkeypatch, tmp_path):
    """Run searchsite/settings.py with exactly the given variables; its namespace."""

    def load(**variables):
        for name in SETTINGS_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("VAR_DIR", str(tmp_path))
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(SETTINGS))

    return load


def test_check_deploy_is_clean_in_production(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_with_debug_on(tmp_path):
    result = manage(production_env(tmp_path, DEBUG="1"), "check")
    assert result.returncode != 0
    assert "DEBUG is on with DJANGO_ENV=production" in result.stderr


@pytest.mark.parametrize(
    "key, reason",
    [
        ("dev-only-insecure-key-do-not-use-in-production", "development key"),
        ("django-insecure-" + secrets.token_urlsafe(50), "django-insecure-"),
        ("short-but-random-8c1f", "fewer than 50"),
        ("ab" * 40, "fewer than 5"),
    ],
)
def test_production_refuses_a_weak_secret_key(load_settings, key, reason):
    with pytest.raises(ImproperlyConfigured, match=f"SECRET_KEY is too weak.*{reason}"):
        load_settings(DJANGO_ENV="production", SECRET_KEY=key)


def test_production_refuses_a_missing_secret_key(load_settings):
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is not set"):
        load_settings(DJANGO_ENV="production")


def test_development_accepts_what_production_refuses(load_settings):
    settings = load_settings(DEBUG="1")
    assert settings["DEBUG"] and settings["SECRET_KEY"] == settings["DEV_SECRET_KEY"]


def test_an_unknown_environment_is_refused(load_settings):
    with pytest.raises(ImproperlyConfigured, match="DJANGO_ENV must be one of"):
        load_settings(DJANGO_ENV="prod")


def test_production_defaults_to_https(load_settings):
    settings = load_settings(DJANGO_ENV="production", SECRET_KEY=STRONG_KEY)
    assert settings["SECURE_SSL_REDIRECT"] is True
    assert settings["SECURE_HSTS_SECONDS"] == 365 * 24 * 3600
    assert settings["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert settings["SECURE_HSTS_PRELOAD"] is False
    assert settings["SESSION_COOKIE_SECURE"] and settings["CSRF_COOKIE_SECURE"]
    assert settings["LOG_FORMAT"] == "json"


def test_https_settings_can_be_changed_in_production(load_settings):
    settings = load_settings(
        DJANGO_ENV="production",
        SECRET_KEY=STRONG_KEY,
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="3600",
        SECURE_HSTS_PRELOAD="1",
    )
    assert settings["SECURE_SSL_REDIRECT"] is False and settings["SECURE_HSTS_SECONDS"] == 3600
    # With preload chosen, Django's check for it is no longer silenced.
    assert settings["SILENCED_SYSTEM_CHECKS"] == []


def test_development_neither_redirects_nor_sends_hsts(load_settings):
    settings = load_settings(SECRET_KEY="anything")
    assert settings["SECURE_SSL_REDIRECT"] is False and settings["SECURE_HSTS_SECONDS"] == 0
    assert settings["LOG_FORMAT"] == "plain"


@pytest.mark.parametrize(
    "value, prefix",
    [
        ("backoffice", "backoffice/"),
        ("/staff/admin/", "staff/admin/"),
        ("", "admin/"),
    ],
)
def test_the_admin_url_is_read_from_the_environment(load_settings, value, prefix):
    assert load_settings(SECRET_KEY="x", ADMIN_URL=value)["ADMIN_URL"] == prefix


@pytest.mark.parametrize("value", ["api", "static/admin", "companies", "a b", "x?y", "../x"])
def test_an_admin_url_that_would_clash_or_break_is_refused(load_settings, value):
    with pytest.raises(ImproperlyConfigured, match="ADMIN_URL"):
        load_settings(SECRET_KEY="x", ADMIN_URL=value)


def test_the_admin_moves_to_its_configured_url(tmp_path):
    script = (
        "from django.test import Client\n"
        "client = Client()\n"
        "print(client.get('/backoffice-7f3/')['Location'], client.get('/admin/').status_code)\n"
    )
    env = production_env(
        tmp_path, ADMIN_URL="/backoffice-7f3/", ALLOWED_HOSTS="testserver", SECURE_SSL_REDIRECT="0"
    )
    result = manage(env, "shell", "--no-imports", "-c", script)
    assert result.stdout.split() == ["/backoffice-7f3/login/?next=/backoffice-7f3/", "404"], (
        result.stderr
    )


@pytest.mark.parametrize("value", ["json", "plain"])
def test_the_log_format_is_chosen_by_log_format(load_settings, value):
    settings = load_settings(SECRET_KEY="x", LOG_FORMAT=value)
    assert settings["LOGGING"]["handlers"]["console"]["formatter"] == value


def test_an_unknown_log_format_is_refused(load_settings):
    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT"):
        load_settings(SECRET_KEY="x", LOG_FORMAT="xml")


def test_qdrant_cluster_settings_are_read_from_the_environment(load_settings):
    search = load_settings(
        SECRET_KEY="x",
        QDRANT_SHARDS="6",
        QDRANT_REPLICATION_FACTOR="2",
        QDRANT_WRITE_CONSISTENCY="2",
    )["COMPANY_SEARCH"]
    assert (
        search["SHARD_NUMBER"],
        search["REPLICATION_FACTOR"],
        search["WRITE_CONSISTENCY_FACTOR"],
    ) == (6, 2, 2)
    unset = load_settings(SECRET_KEY="x")["COMPANY_SEARCH"]
    assert unset["SHARD_NUMBER"] is unset["REPLICATION_FACTOR"] is None


def test_vector_storage_settings_come_from_the_environment(load_settings):
    search = load_settings(
        SECRET_KEY="x", QDRANT_VECTOR_DATATYPE="float32", QDRANT_QUANTIZATION_OVERSAMPLING=" 2.5 "
    )["COMPANY_SEARCH"]
    assert (search["VECTOR_DATATYPE"], search["QUANTIZATION_OVERSAMPLING"]) == ("float32", 2.5)
    unset = load_settings(SECRET_KEY="x")["COMPANY_SEARCH"]
    assert (unset["VECTOR_DATATYPE"], unset["QUANTIZATION_OVERSAMPLING"]) == ("float16", 4.0)


@pytest.mark.parametrize(
    "variables, message",
    [
        ({"QDRANT_SHARDS": "0"}, "QDRANT_SHARDS must be at least 1"),
        ({"QDRANT_REPLICATION_FACTOR": "two"}, "QDRANT_REPLICATION_FACTOR must be a whole number"),
        (
            {"QDRANT_REPLICATION_FACTOR": "2", "QDRANT_WRITE_CONSISTENCY": "3"},
            "QDRANT_WRITE_CONSISTENCY cannot exceed",
        ),
        ({"QDRANT_QUANTIZATION_OVERSAMPLING": "0.5"}, "must be a number from 1 to 100"),
        ({"QDRANT_QUANTIZATION_OVERSAMPLING": "-1"}, "must be a number from 1 to 100"),
        ({"QDRANT_QUANTIZATION_OVERSAMPLING": "nan"}, "must be a number from 1 to 100"),
        ({"QDRANT_QUANTIZATION_OVERSAMPLING": "inf"}, "must be a number from 1 to 100"),
        ({"QDRANT_QUANTIZATION_OVERSAMPLING": "1e300"}, "must be a number from 1 to 100"),
        ({"QDRANT_QUANTIZATION_OVERSAMPLING": "lots"}, "must be a number from 1 to 100"),
        ({"QDRANT_VECTOR_DATATYPE": "int4"}, "QDRANT_VECTOR_DATATYPE must be one of"),
    ],
)
def test_impossible_cluster_settings_are_refused(load_settings, variables, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        load_settings(SECRET_KEY="x", **variables)
