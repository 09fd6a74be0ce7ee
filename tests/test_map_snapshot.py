"""The whole map encoded ahead (companies/search/map_snapshot.py): a process serves the stored
encoding at once, and a large map just changed is served as it was while it is encoded anew."""

import gzip
import json

import pytest

from companies.models import MapSnapshot
from companies.search import map_snapshot
from companies.search.landscape import build_landscape
from tests.factories import make_company
from tests.helpers import wait_for

# Committed writes: the background encoding reads the map on a connection of its own.
pytestmark = pytest.mark.django_db(transaction=True)

DESCRIPTIONS = [
    "Reserve a parking spot near the stadium.",
    "Find and book parking garages downtown.",
    "Payroll and benefits software for small businesses.",
    "Run payroll and pay contractors worldwide.",
    "Learn to code with interactive programming courses.",
    "Online courses that teach data science.",
]


@pytest.fixture
def small_map(search_store, monkeypatch):
    """Six companies laid out on the map, and a process that has not served it yet."""
    for n, description in enumerate(DESCRIPTIONS):
        make_company(f"Company {n}", description=description)
    build_landscape()
    monkeypatch.setattr(map_snapshot, "_copy", map_snapshot._Copy())
    yield
    map_snapshot.wait_for_refresh(timeout=30)


def served(client):
    response = client.get("/api/map/", HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    return response["ETag"], json.loads(gzip.decompress(response.content))


def test_a_layout_stores_the_map_encoded_as_it_is_served(small_map, client):
    stored = MapSnapshot.objects.get()
    assert stored.fingerprint == map_snapshot.fingerprint()
    etag, data = served(client)
    assert etag == stored.etag
    assert data == json.loads(gzip.decompress(stored.gzipped)) == map_snapshot.map_data()


def test_a_process_serves_the_stored_encoding_without_encoding_again(small_map, client):
    # Stored bytes that no encoding of this map would give: serving them proves none was made.
    marker = {"points": [], "clusters": [], "stored": True}
    MapSnapshot.objects.update(gzipped=gzip.compress(json.dumps(marker).encode()), etag='"m"')
    assert served(client) == ('"m"', marker)


def test_a_large_map_just_changed_is_served_as_it_was_while_encoded_anew(
    small_map, client, monkeypatch
):
    monkeypatch.setattr(map_snapshot, "INLINE_POINTS", 5)  # as if the six points were many
    before, data = served(client)
    added = make_company("Curbside Spaces", description="Reserve a parking spot downtown.")
    assert added.pk not in {point["id"] for point in data["points"]}

    etag, data = served(client)  # the first request after the change: the map of before
    assert etag == before and added.pk not in {point["id"] for point in data["points"]}

    etag, data = wait_for(lambda: (answer := served(client))[0] != before and answer)
    assert added.pk in {point["id"] for point in data["points"]}
    assert data == map_snapshot.map_data()
    stored = MapSnapshot.objects.get()
    assert (stored.etag, stored.fingerprint) == (etag, map_snapshot.fingerprint())


def test_a_process_with_an_outdated_stored_encoding_serves_it_and_catches_up(
    small_map, client, monkeypatch
):
    monkeypatch.setattr(map_snapshot, "INLINE_POINTS", 5)
    current, _ = served(client)
    MapSnapshot.objects.update(fingerprint="outdated", etag='"old"')
    monkeypatch.setattr(map_snapshot, "_copy", map_snapshot._Copy())  # a process just started
    assert served(client)[0] == '"old"'
    assert wait_for(lambda: served(client)[0] == current)
    # Stored before this process serves it, so no wait for the background thread is needed.
    assert MapSnapshot.objects.get().fingerprint == map_snapshot.fingerprint()


def test_a_small_map_is_encoded_in_the_request_that_finds_it_changed(small_map, client):
    before, _ = served(client)
    added = make_company("Curbside Spaces", description="Reserve a parking spot downtown.")
    etag, data = served(client)
    assert etag != before and added.pk in {point["id"] for point in data["points"]}
