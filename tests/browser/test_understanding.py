"""Query understanding as a person sees it: a place read as the city filter, with the way back
to all cities, and "Did you mean" for a misspelt query."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_site import cards, search

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_place_in_the_query_shows_as_the_city_filter(page, screenshot):
    search(page, "fintech in London")
    expect(page.locator(".facet.selected")).to_have_count(2)  # London, and its spelling Londo
    expect(page.locator(".facets")).to_contain_text("read from your search")
    expect(page.locator(".summary")).to_contain_text("in Londo, London")
    city_badges = set(cards(page).locator(".city").all_inner_texts())
    assert city_badges and city_badges <= {"London", "Londo"}
    screenshot(page, "place-understood")

    page.get_by_role("link", name="Search all cities instead").click()
    page.wait_for_url(re.compile(r"understand=0"))
    expect(page.locator(".facets")).not_to_contain_text("read from your search")
    expect(page.locator(".facet.selected")).to_have_count(0)
    assert "Chicago" in set(cards(page).locator(".city").all_inner_texts())


def test_a_misspelt_query_says_did_you_mean(page, screenshot):
    search(page, "reserve parrking from my phone")
    suggestion = page.locator(".did-you-mean")
    expect(suggestion).to_contain_text("Did you mean reserve parking from my phone?")
    expect(cards(page).first.locator("h3")).to_have_text(re.compile("SpotHero|ParkWhiz"))
    expect(page.get_by_role("heading", name="More loosely related")).to_be_visible()
    screenshot(page, "did-you-mean")

    suggestion.get_by_role("link", name="reserve parking from my phone").click()
    page.wait_for_url(re.compile(r"q=reserve\+parking\+from"))
    expect(page.locator(".did-you-mean")).to_have_count(0)
    expect(page.get_by_role("combobox")).to_have_value("reserve parking from my phone")
