"""The map page, its picture, /api/map/ and the feed that follows a search."""

import gzip
import io
import json

import feedparser
import pytest
from django.db.models import F
from django.urls import reverse
from PIL import Image

from companies.models import Company, MapPoint
from companies.search.ranking import search_companies
from tests.factories import make_company

pytestmark = pytest.mark.django_db


def test_the_map_api_lists_every_searchable_company_compactly(demo_companies, client):
    response = client.get("/api/map/", HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200 and response["Content-Encoding"] == "gzip"
    data = json.loads(gzip.decompress(response.content))
    assert set(data) == {"points", "clusters"}
    assert {p["id"] for p in data["points"]} == set(
        Company.objects.searchable().values_list("pk", flat=True)
    )
    assert set(data["points"][0]) == {"id", "x", "y", "cluster"}
    assert {"id", "label", "size"} <= set(data["clusters"][0])
    plain = client.get("/api/map/")
    assert "Content-Encoding" not in plain and json.loads(plain.content) == data


def test_the_map_api_leaves_hidden_companies_out_and_filters_by_city(demo_companies, client):
    spothero = Company.objects.get(name="SpotHero")
    Company.objects.filter(pk=spothero.pk).update(searchable=False)  # even behind the signals
    ids = {p["id"] for p in client.get("/api/map/").json()["points"]}
    assert spothero.pk not in ids and len(ids) == 258
    london = client.get("/api/map/", {"city": "LONDON"}).json()
    expected = set(Company.objects.searchable().filter(city="London").values_list("pk", flat=True))
    assert {p["id"] for p in london["points"]} == expected and expected
    assert sum(c["size"] for c in london["clusters"]) == len(expected)


def test_the_map_api_refuses_bad_cities(client):
    response = client.get("/api/map/", {"city": "x" * 500})
    assert response.status_code == 400 and "city" in response.json()


@pytest.mark.parametrize("url", ["/api/map/", "/api/search/", "/explore/", "/search/feed/"])
def test_a_city_that_grows_past_the_limit_when_normalised_is_still_a_city(client, url):
    # 60 ligatures fit the length limit; their normalised key ("fi" each) is longer, and
    # simply matches no company.
    response = client.get(url, {"q": "parking", "city": "\ufb01" * 60})
    assert response.status_code == 200


def test_the_map_api_is_in_the_schema(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/map/"]["get"]
    assert operation["operationId"] == "map"
    body = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/Map")


def test_the_page_is_a_picture_and_lists_without_javascript(demo_companies, client):
    response = client.get("/explore/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'src="/explore/map.png?' in page and "Explore the startup landscape" in page
    for cluster in client.get("/api/map/").json()["clusters"]:
        assert cluster["label"] in page
    image = Image.open(io.BytesIO(client.get("/explore/map.png").content))
    assert image.format == "PNG" and image.size == (900, 900)
    assert len(set(image.getdata())) > 10  # points in several colours, not a blank picture


def test_a_search_on_the_map_page_lists_and_rings_its_results(demo_companies, client):
    page = client.get("/explore/", {"q": "reserve parking from my phone"}).content.decode()
    best = search_companies("reserve parking from my phone", limit=3).hits
    assert all(hit.company.name in page for hit in best)
    assert 'rel="alternate" type="application/atom+xml"' in page and "Follow this search" in page
    plain = Image.open(io.BytesIO(client.get("/explore/map.png").content)).convert("RGB")
    ringed = client.get("/explore/map.png", {"q": "parking", "city": "Chicago"})
    ringed = Image.open(io.BytesIO(ringed.content)).convert("RGB")
    assert plain.tobytes() != ringed.tobytes()


@pytest.mark.parametrize("url", ["/explore/", "/explore/map.png", "/search/feed/"])
@pytest.mark.parametrize("params", [{"q": "\x00"}, {"q": "a" * 1000}, {"city": "x" * 500}])
def test_bad_searches_are_400(client, url, params):
    assert client.get(url, {"q": "parking", **params}).status_code == 400


def test_the_feed_is_atom_of_the_newest_matches(demo_companies, client):
    newest = Company.objects.get(name="ParkWhiz")
    Company.objects.filter(pk=newest.pk).update(created_at="2030-01-01T00:00:00Z")
    response = client.get("/search/feed/", {"q": "reserve parking from my phone"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10" and "reserve parking from my phone" in feed.feed.title
    matches = {
        hit.company.get_absolute_url()
        for hit in search_companies("reserve parking from my phone", limit=50).hits
    }
    assert feed.entries and all(entry.link.endswith(tuple(matches)) for entry in feed.entries)
    assert feed.entries[0].title == "ParkWhiz (Chicago)"
    dates = [entry.published_parsed for entry in feed.entries]
    assert dates == sorted(dates, reverse=True)


def test_the_feed_of_a_city_lists_only_that_city(demo_companies, client):
    feed = feedparser.parse(
        client.get("/search/feed/", {"q": "software", "city": "London"}).content
    )
    assert feed.entries and all(entry.title.endswith("(London)") for entry in feed.entries)


def test_the_results_page_links_its_feed_and_the_map(demo_companies, client):
    page = client.get("/search/", {"q": "parking", "city": "Chicago"}).content.decode()
    feed = reverse("companies:search-feed") + "?q=parking&amp;city=Chicago"
    assert '<link rel="alternate" type="application/atom+xml"' in page and feed in page
    assert ">Follow this search</a>" in page and "/explore/?q=parking&amp;city=Chicago" in page
    assert MapPoint.objects.exists()


def test_the_feed_of_a_search_with_control_characters_is_still_xml(demo_companies, client):
    response = client.get("/search/feed/", {"q": "parking \x1b[31m\x07", "city": "Chicago\x08"})
    feed = feedparser.parse(response.content)
    assert response.status_code == 200 and not feed.bozo, feed.get("bozo_exception")
    assert "parking [31m" in feed.feed.title


def test_the_whole_map_is_encoded_once_until_it_changes(
    demo_companies, client, django_capture_on_commit_callbacks
):
    first = client.get("/api/map/", HTTP_ACCEPT_ENCODING="gzip")
    assert client.get("/api/map/", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    with django_capture_on_commit_callbacks(execute=True):
        company = make_company("Curbside Spaces", description="Reserve a parking spot.")
    second = client.get("/api/map/")
    assert second["ETag"] != first["ETag"]
    assert company.pk in {p["id"] for p in second.json()["points"]}
    moved = MapPoint.objects.filter(company=company)
    moved.update(x=F("x") + 1, written=F("written") + 1)  # as a new placement would
    assert client.get("/api/map/")["ETag"] != second["ETag"]
    with django_capture_on_commit_callbacks(execute=True):
        company.delete()
    assert client.get("/api/map/")["ETag"] == first["ETag"]
