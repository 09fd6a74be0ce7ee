"""The editors' loop in a real browser: a search that finds nothing shows in Search insights,
a curation made from there pins a company, and the next search shows it first, "Featured"."""

import re
import time

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from companies import searchlog
from companies.models import Company, Curation, SearchClick, SearchLog

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOTHING = "flibbertigibbet"


def wait_for(condition, timeout=15):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def search_log(settings):
    settings.SEARCH_LOG_ENABLED = True
    yield
    searchlog.writer.flush(timeout=15)


def test_an_empty_search_becomes_a_curation(page, search_log, screenshot):
    page.goto(f"/search/?q={NOTHING}&mode=keyword")
    expect(page.get_by_role("heading", name=re.compile("No companies match"))).to_be_visible()
    wait_for(lambda: SearchLog.objects.filter(query=NOTHING, count=0).exists())

    get_user_model().objects.create_superuser("editor", password="editor-password")
    page.goto("/admin/")
    page.get_by_label("Username").fill("editor")
    page.get_by_label("Password").fill("editor-password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Search insights").click()
    expect(page.get_by_role("heading", name="Search insights")).to_be_visible()
    nothing_found = page.locator("#zero")
    expect(nothing_found.get_by_role("link", name=NOTHING)).to_be_visible()
    screenshot(page, "admin-search-insights")

    chosen = Company.objects.get(name="SpotHero")
    nothing_found.get_by_role("row", name=re.compile(NOTHING)).get_by_role(
        "link", name="Create a curation"
    ).click()
    expect(page.get_by_label("Query:")).to_have_value(NOTHING)
    page.locator("#id_pins-0-position").fill("1")
    page.locator("#id_pins-0-company").fill(str(chosen.pk))
    screenshot(page, "admin-curation")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    assert [pin.company_id for pin in Curation.objects.get(query_key=NOTHING).pins.all()] == [
        chosen.pk
    ]

    page.goto(f"/search/?q={NOTHING.upper()}&mode=keyword")
    first = page.locator("ol.results > li.card").first
    expect(first.get_by_role("link", name=chosen.name, exact=True)).to_be_visible()
    expect(first.locator(".featured")).to_have_text("Featured")
    expect(page.locator(".summary")).to_contain_text("1")
    screenshot(page, "results-featured")

    # Opening it is recorded (a beacon), and the link is still a plain link.
    first.get_by_role("link", name=chosen.name, exact=True).click()
    page.wait_for_url(re.compile(rf"/companies/{chosen.slug}/$"))
    wait_for(lambda: SearchClick.objects.filter(company_id=chosen.pk, position=1).exists())
