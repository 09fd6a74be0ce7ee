"""Production static files: collectstatic's hashed, compressed copies, served by WhiteNoise."""

import json

import pytest
from django.core.management import call_command
from django.http import HttpResponseNotFound
from django.test import RequestFactory
from whitenoise.middleware import WhiteNoiseMiddleware

pytestmark = pytest.mark.django_db

OUR_FILES = ("companies/site.css", "companies/site.js", "companies/admin.css")


def test_collectstatic_output_is_what_the_pages_link_and_whitenoise_serves(
    tmp_path, settings, client
):
    settings.STATIC_ROOT = tmp_path
    settings.WHITENOISE_USE_FINDERS = False
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", "--noinput", verbosity=0)
    hashed = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    for name in OUR_FILES:
        assert (tmp_path / hashed[name]).exists() and (tmp_path / f"{hashed[name]}.gz").exists()

    html = client.get("/").content.decode()
    assert f'href="/static/{hashed["companies/site.css"]}"' in html
    assert f'src="/static/{hashed["companies/site.js"]}"' in html

    serve = WhiteNoiseMiddleware(lambda request: HttpResponseNotFound())
    response = serve(
        RequestFactory().get(f"/static/{hashed['companies/site.js']}", HTTP_ACCEPT_ENCODING="gzip")
    )
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "immutable" in response.headers["Cache-Control"]
