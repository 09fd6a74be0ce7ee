"""The map of every company, as a person uses it in headless Chromium: labelled clusters, a card
on hover, a click to the company, a search placed and ringed, a city filter; the frame times of
panning and zooming 50,000 points; a phone-sized screen; the picture without JavaScript."""

import json
import math
import re
import statistics

import pytest
from playwright.sync_api import expect

from companies.models import Company
from companies.search.map_snapshot import map_data

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def no_script_errors(page):
    """Every test: the page's script raised nothing."""
    errors = []
    page.on("pageerror", lambda error: errors.append(error.stack))
    yield
    assert not errors, errors[:3]


def open_map(page, path="/explore/"):
    page.goto(path)
    page.wait_for_function("window.exploreMap && window.exploreMap.state.frames.length > 0")
    expect(page.locator("#map-stage canvas")).to_be_visible()


def hover_company(page, name):
    """Move the pointer onto company ``name``'s point; its screen position."""
    pk = Company.objects.get(name=name).pk
    x, y = page.evaluate(f"window.exploreMap.screenOf({pk})")
    box = page.locator("#map-stage canvas").bounding_box()
    page.mouse.move(box["x"] + x, box["y"] + y)
    return box["x"] + x, box["y"] + y


def test_the_map_shows_labelled_clusters_and_a_card_on_hover(page, screenshot):
    open_map(page)
    expect(page).to_have_title("Explore the startup landscape – Startup Search")
    clusters = map_data()["clusters"]
    labels = page.locator(".clusters li a").all_inner_texts()
    assert sorted(labels) == sorted(c["label"] for c in clusters)
    # The canvas drew the clusters' labels over the points (the page's own record of them).
    assert page.evaluate("window.exploreMap.state.clusterList.length") == len(clusters)
    screenshot(page, "explore")

    hover_company(page, "SpotHero")
    card = page.locator("#map-card")
    expect(card).to_be_visible()
    expect(card.locator("strong")).to_have_text("SpotHero")
    expect(card.locator(".city")).to_have_text("Chicago")
    expect(card.locator("p")).not_to_be_empty()
    screenshot(page, "explore-hover")

    x, y = hover_company(page, "SpotHero")
    page.mouse.click(x, y)
    page.wait_for_url(re.compile(r"/companies/spothero/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("SpotHero")


def test_a_query_lands_among_its_results_and_a_city_dims_the_rest(page, screenshot):
    open_map(page)
    page.get_by_label("Place a search on the map").fill("reserve parking from my phone")
    page.get_by_role("button", name="Show", exact=True).click()
    hits = page.locator("#map-hits li a")
    expect(hits.first).to_have_text("SpotHero")
    highlighted = page.evaluate(
        "window.exploreMap.state.highlighted.map(i => window.exploreMap.state.ids[i])"
    )
    names = dict(Company.objects.values_list("pk", "name"))
    assert [names[pk] for pk in highlighted] == hits.all_inner_texts()
    query_point = page.evaluate("window.exploreMap.state.queryPoint")
    spothero = next(p for p in map_data()["points"] if names[p["id"]] == "SpotHero")
    assert abs(query_point[0] - spothero["x"]) < 150 and abs(query_point[1] - spothero["y"]) < 150
    expect(page.get_by_role("link", name="Follow this search")).to_have_attribute(
        "href", re.compile(r"^/search/feed/\?q=reserve\+parking")
    )
    assert "q=reserve+parking" in page.url
    screenshot(page, "explore-query")

    page.get_by_label("City").select_option("London")
    page.wait_for_function("window.exploreMap.state.dimmed !== null")
    shown = page.evaluate(
        "(s => Array.from(s.ids).filter((id, i) => !s.dimmed[i]))(window.exploreMap.state)"
    )
    london = set(Company.objects.filter(city="London").values_list("pk", flat=True))
    assert set(shown) == london
    screenshot(page, "explore-city")


def test_panning_and_zooming_50000_points_keeps_frames_short(page, live_server):
    """A synthetic map of 50,000 points in 40 clusters, served in place of /api/map/."""
    points, clusters = [], []
    for c in range(40):
        cx, cy = 100 + (c % 8) * 110, 100 + (c // 8) * 190
        clusters.append({"id": c + 1, "label": f"market {c}", "size": 1250, "x": cx, "y": cy})
        for i in range(1250):
            angle, radius = i * 2.399963, (i / 1250) ** 0.5 * 50
            points.append(
                {
                    "id": c * 1250 + i + 1,
                    "x": round(cx + radius * math.cos(angle), 1),
                    "y": round(cy + radius * math.sin(angle), 1),
                    "cluster": c + 1,
                }
            )
    body = json.dumps({"points": points, "clusters": clusters})
    page.route(
        re.compile(r".*/api/map/$"),
        lambda route: route.fulfill(body=body, content_type="application/json"),
    )
    open_map(page)
    assert page.evaluate("window.exploreMap.points") == 50_000
    timings = page.evaluate("window.exploreMap.measureFrames(120)")
    draws = sorted(timings["draws"])
    intervals = sorted(timings["intervals"])
    median_draw, p95_draw = statistics.median(draws), draws[int(len(draws) * 0.95)]
    median_interval = statistics.median(intervals)
    print(
        f"50,000 points: draw median {median_draw:.1f} ms, p95 {p95_draw:.1f} ms; "
        f"frame interval median {median_interval:.1f} ms over {len(intervals)} frames"
    )
    # Headless Chromium draws on the CPU, on a machine shared with other work: a frame well
    # under the 33 ms of 30 frames a second.
    assert median_draw < 33, draws


def test_on_a_phone_the_map_fills_the_width(new_context, screenshot):
    page = new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    ).new_page()
    open_map(page)
    box = page.locator("#map-stage canvas").bounding_box()
    assert box["width"] > 340 and box["x"] >= 0
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # Labels are drawn, and none under the zoom buttons (their box, relative to the canvas).
    labels = page.evaluate("window.exploreMap.state.labelBoxes")
    zoom = page.locator("#map-stage .map-zoom").bounding_box()
    zx, zy = zoom["x"] - box["x"], zoom["y"] - box["y"]
    assert len(labels) >= 4
    for x, y, w, h in labels:
        apart = x + w <= zx or zx + zoom["width"] <= x or y + h <= zy or zy + zoom["height"] <= y
        assert apart, (x, y, w, h, zoom)
    screenshot(page, "explore-phone")


def test_without_javascript_the_map_is_a_picture(new_context, screenshot):
    page = new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    ).new_page()
    page.goto("/explore/?q=parking&city=Chicago")
    picture = page.locator("img.map-picture")
    expect(picture).to_be_visible()
    assert page.evaluate("document.querySelector('img.map-picture').naturalWidth") == 900
    expect(page.locator("#map-hits li").first).to_be_visible()
    screenshot(page, "explore-no-script")
