"""The map of every company (companies/search/landscape.py): laid out from the index's vectors,
named by market words, and following saves, hides and deletes without a new layout."""

import math

import numpy as np
import pytest

from companies.models import Company, MapCluster, MapPoint
from companies.search import landscape, layout
from companies.search.engines import get_store
from companies.search.landscape import build_landscape
from companies.search.map_snapshot import map_data
from tests.factories import make_company

pytestmark = pytest.mark.django_db


def position(name):
    point = MapPoint.objects.get(company__name=name)
    return point.x, point.y, point.cluster


def distance(a, b):
    return math.dist(a[:2], b[:2])


def test_every_searchable_company_is_one_point_in_a_named_cluster(demo_companies):
    data = map_data()
    ids = [point["id"] for point in data["points"]]
    assert sorted(ids) == sorted(Company.objects.searchable().values_list("pk", flat=True))
    assert all(0 <= p["x"] <= layout.SCALE and 0 <= p["y"] <= layout.SCALE for p in data["points"])
    assert 4 <= len(data["clusters"]) <= layout.MAX_CLUSTERS
    assert sum(c["size"] for c in data["clusters"]) == len(ids)
    assert {p["cluster"] for p in data["points"]} == {c["id"] for c in data["clusters"]}
    labels = [c["label"] for c in data["clusters"]]
    assert all(label and "logo" not in label.lower() for label in labels)
    assert len(set(labels)) == len(labels), labels


def closer_than(name, other):
    """The share of companies nearer to ``name`` on the map than ``other`` is."""
    here, there = position(name), position(other)
    others = [(p["x"], p["y"]) for p in map_data()["points"]]
    return sum(math.dist(here[:2], xy) < distance(here, there) for xy in others) / len(others)


def test_companies_that_do_the_same_thing_are_close(demo_companies):
    rows = get_store().company_vectors()
    ids = [pk for pk, _, _ in rows]
    vectors = layout.reduce_dimensions(np.array([vector for _, _, vector in rows]))
    where = {p["id"]: (p["x"], p["y"]) for p in map_data()["points"]}
    on_map = layout.nearest_neighbours(np.array([where[pk] for pk in ids]), 10)
    alike = layout.nearest_neighbours(vectors, 10)
    kept = np.mean([len(set(a) & set(m)) / 10 for a, m in zip(alike, on_map)])
    assert kept > 0.25  # of each company's ten most alike, how many are among its ten nearest
    assert closer_than("SpotHero", "ParkWhiz") < 0.15
    assert position("SpotHero")[2] == position("ParkWhiz")[2]


def test_the_layout_is_the_same_each_time(demo_companies):
    before = list(MapPoint.objects.order_by("pk").values_list("pk", "x", "y", "cluster"))
    report = build_landscape()
    after = list(MapPoint.objects.order_by("pk").values_list("pk", "x", "y", "cluster"))
    assert report.companies == len(after) == 259 and report.skipped == 0
    assert after == before


def test_a_new_company_is_placed_by_its_neighbours_and_follows_its_changes(
    demo_companies, django_capture_on_commit_callbacks
):
    clusters = list(MapCluster.objects.values_list("id", "label"))
    with django_capture_on_commit_callbacks(execute=True):
        company = make_company(
            "Curbside Spaces", description="Reserve a parking spot from your phone."
        )
    placed = MapPoint.objects.get(company=company)
    assert placed.hash == Company.objects.get(pk=company.pk).indexed_hash
    assert closer_than("Curbside Spaces", "SpotHero") < 0.1
    assert placed.cluster == position("SpotHero")[2]
    assert list(MapCluster.objects.values_list("id", "label")) == clusters  # no new layout

    with django_capture_on_commit_callbacks(execute=True):
        company.description = "Learn to code online with interactive programming courses."
        company.save()
    moved = MapPoint.objects.get(company=company)
    assert moved.hash == Company.objects.get(pk=company.pk).indexed_hash != placed.hash
    assert closer_than("Curbside Spaces", "SpotHero") > 0.2

    with django_capture_on_commit_callbacks(execute=True):
        company.searchable = False
        company.save()
    assert company.pk not in {p["id"] for p in map_data()["points"]}
    assert not MapPoint.objects.filter(company=company).exists()

    with django_capture_on_commit_callbacks(execute=True):
        company.searchable = True
        company.save()
    assert MapPoint.objects.filter(company=company).exists()
    with django_capture_on_commit_callbacks(execute=True):
        company.delete()
    assert MapPoint.objects.count() == 259


def test_a_layout_read_before_a_change_keeps_the_newer_position(
    demo_companies, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        company = make_company("Curbside Spaces", description="Reserve a parking spot.")
    before = MapPoint.objects.get(company=company)
    with django_capture_on_commit_callbacks(execute=True):
        company.description = "Learn to code online with interactive programming courses."
        company.save()
    newer = MapPoint.objects.get(company=company)
    assert newer.hash != before.hash
    # A layout whose vectors were read before the change would put it where it was.
    computed = {company.pk: (before.x, before.y, before.cluster, before.hash)}
    _, skipped = landscape._store_layout(computed, list(MapCluster.objects.all()))
    assert company.pk in skipped
    kept = MapPoint.objects.get(company=company)
    assert kept.hash == newer.hash and (kept.x, kept.y) != (before.x, before.y)
    with django_capture_on_commit_callbacks(execute=True):
        company.delete()


def test_the_repair_places_companies_the_map_lacks(demo_companies):
    missing = list(MapPoint.objects.values_list("pk", flat=True)[:5])
    MapPoint.objects.filter(pk__in=missing).delete()
    assert landscape.repair_landscape() == 5
    assert MapPoint.objects.count() == 259
    assert landscape.repair_landscape() == 0


def test_nothing_is_placed_before_the_first_layout(
    demo_companies, django_capture_on_commit_callbacks
):
    MapCluster.objects.all().delete()
    MapPoint.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        company = make_company("Curbside Spaces", description="Reserve a parking spot.")
    assert not MapPoint.objects.exists()
    assert map_data() == {"points": [], "clusters": []}
    build_landscape()
    assert MapPoint.objects.count() == 260
    with django_capture_on_commit_callbacks(execute=True):
        company.delete()


def test_market_words_name_a_cluster_by_what_sets_it_apart():
    from companies.search.market_words import cluster_labels

    texts = ["parking garage spots", "parking spots for cars", "parking app", "yoga classes"] * 2
    labels = cluster_labels(texts, [0, 0, 0, 1] * 2)
    assert labels[0].startswith("parking") and "yoga" not in labels[0]
    assert set(labels[1].split(" · ")) == {"yoga", "classes"}


def test_the_command_lays_the_map_out_again(demo_companies, capsys):
    from django.core.management import call_command

    MapPoint.objects.all().delete()
    call_command("landscape")
    out = capsys.readouterr()
    assert "Map: 259 companies in" in out.out and "Laying out 259 companies" in out.err
    assert MapPoint.objects.count() == 259


@pytest.mark.parametrize("duplicates", [False, True])
def test_the_neighbour_search_finds_exactly_the_nearest(duplicates):
    """Past a few thousand candidates only those under a sampled bound are sorted: the same
    neighbours, nearest first, as sorting every distance; with many equal points (more under
    the bound than is worth it) by a plain selection, which must agree too."""
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(12, 20))
    points = centres[rng.integers(12, size=6000)] + rng.normal(scale=0.5, size=(6000, 20))
    if duplicates:
        points[:3000] = points[0]
    points = points.astype(np.float32)
    assert len(points) > 4 * layout.KNN_SAMPLE  # the sampled bound is used
    found = layout.nearest_neighbours(points, 10)
    squared = (points**2).sum(axis=1)
    for start in range(0, len(points), 500):
        rows = np.arange(start, start + 500)
        distances = squared - 2 * points[rows] @ points.T
        distances[np.arange(500), rows] = np.inf
        expected = np.sort(distances, axis=1)[:, :10]
        assert np.allclose(np.take_along_axis(distances, found[rows], axis=1), expected)
        assert not (found[rows] == rows[:, None]).any()
