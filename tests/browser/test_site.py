"""The site as a person uses it, in headless Chromium, with real search over the demo data."""

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from companies.models import Company

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def search(page, query):
    page.goto("/")
    page.get_by_label("Describe the company you are looking for").fill(query)
    page.keyboard.press("Enter")  # no suggestion is chosen, so the form is submitted
    page.wait_for_url(re.compile(r"/search/\?"))


def cards(page):
    return page.locator("ol.results > li.card")


def test_search_filter_by_city_and_page_through(page, screenshot):
    page.goto("/")
    expect(page).to_have_title("Startup Search")
    expect(page.get_by_role("heading", level=1)).to_have_text("Find startups by what they do")
    screenshot(page, "home")

    search(page, "social network")
    expect(page).to_have_title(re.compile(r"^social network – \d+ companies – Startup Search$"))
    expect(page.get_by_role("combobox")).to_have_value("social network")
    expect(cards(page)).to_have_count(10)
    expect(page.locator(".summary")).to_contain_text("1–10 of")
    screenshot(page, "results")

    page.get_by_role("link", name=re.compile(r"^London")).click()
    page.wait_for_url(re.compile(r"city=London"))
    expect(page.locator(".facet.selected")).to_contain_text("London")
    city_badges = page.locator("ol.results .city").all_inner_texts()
    assert city_badges and set(city_badges) == {"London"}

    page.get_by_role("link", name="Clear city filter").click()
    page.wait_for_url(lambda url: "city=" not in url)
    first_page = cards(page).locator("h3 a").all_inner_texts()
    page.get_by_role("link", name="Page 2").click()
    page.wait_for_url(re.compile(r"page=2"))
    expect(page.locator(".summary")).to_contain_text("11–20 of")
    expect(page.locator('.pagination [aria-current="page"]')).to_have_text("2")
    second_page = cards(page).locator("h3 a").all_inner_texts()
    assert second_page and not set(first_page) & set(second_page)


def test_choosing_a_mode_searches_again(page):
    search(page, "crowdfunding")
    page.get_by_label(re.compile("Exact words")).check()
    page.wait_for_url(re.compile(r"mode=keyword"))
    expect(page.get_by_label(re.compile("Exact words"))).to_be_checked()
    snippets = cards(page).locator(".snippet mark").all_inner_texts()
    assert snippets and all(word.lower().startswith("crowdfund") for word in snippets)


def test_company_page_and_its_similar_companies(page, screenshot):
    search(page, "reserve parking from my phone")
    page.get_by_role("link", name="SpotHero", exact=True).click()
    expect(page).to_have_title(re.compile(r"^SpotHero \(Chicago\) – Startup Search$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("SpotHero")
    # The logo cannot load here (no network): the initial takes its place.
    expect(page.locator(".company .logo")).to_have_class(re.compile(r"\bbroken\b"))
    visit = page.get_by_role("link", name=re.compile(r"^Visit "))
    expect(visit).to_have_attribute("target", "_blank")
    expect(visit).to_have_attribute("rel", "noopener noreferrer nofollow")
    similar = page.locator("#similar ol.results h3 a")
    expect(similar.first).to_have_text("ParkWhiz")
    screenshot(page, "company")

    similar.first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("ParkWhiz")
    expect(page.locator("#similar ol.results h3 a").first).to_be_visible()


def test_autocomplete_with_the_keyboard(page, screenshot):
    page.goto("/")
    box = page.get_by_role("combobox", name="Describe the company you are looking for")
    box.press_sequentially("spotH", delay=30)
    listbox = page.get_by_role("listbox", name="Companies")
    expect(listbox).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(listbox.get_by_role("option")).to_have_text(["SpotHero"])

    box.press("ArrowDown")
    option = listbox.get_by_role("option", name="SpotHero")
    expect(option).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", option.get_attribute("id"))
    screenshot(page, "autocomplete")
    box.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(box).to_have_value("spotH")

    box.press("ArrowDown")
    expect(option).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    page.wait_for_url("**/companies/spothero/")
    expect(page.get_by_role("heading", level=1)).to_have_text("SpotHero")


def test_autocomplete_with_the_mouse_and_a_plain_search(page):
    page.goto("/")
    box = page.get_by_role("combobox", name="Describe the company you are looking for")
    box.press_sequentially("park", delay=30)
    page.get_by_role("option", name="ParkWhiz").click()
    page.wait_for_url("**/companies/parkwhiz/")

    page.goto("/")
    box.press_sequentially("park", delay=30)
    expect(page.get_by_role("listbox", name="Companies")).to_be_visible()
    box.press("Enter")  # no suggestion chosen: the words are searched
    page.wait_for_url(re.compile(r"/search/\?q=park"))
    expect(cards(page).first).to_be_visible()


def test_reads_well_on_a_phone(new_context, screenshot):
    phone = new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    ).new_page()
    phone.goto("/search/?q=software+for+restaurants")
    expect(cards(phone).first).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(phone, "results-phone")
    phone.goto(Company.objects.get(name="SpotHero").get_absolute_url())
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(phone, "company-phone")


def log_in_to_admin(page):
    get_user_model().objects.create_superuser("editor", "editor@example.com", "a-long-password-1")
    page.goto("/admin/")
    page.get_by_label("Username").fill("editor")
    page.get_by_label("Password").fill("a-long-password-1")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("row", name="Companies").get_by_role("link", name="Companies").click()


def test_editor_changes_a_company_and_search_finds_its_new_text(page, screenshot):
    log_in_to_admin(page)
    expect(page.locator("#result_list")).to_be_visible()
    screenshot(page, "admin-list")

    page.locator("#searchbar").fill("GiveForward")
    page.keyboard.press("Enter")
    page.get_by_role("link", name="GiveForward", exact=True).click()
    page.get_by_label("Description").fill(
        "Beekeeping drones. Autonomous drones pollinate orchards when wild bees are scarce."
    )
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    row = page.locator("#result_list tr", has_text="GiveForward")
    expect(row).to_contain_text("Indexed")

    search(page, "robots that pollinate fruit trees")
    expect(cards(page).first.locator("h3 a")).to_have_text("GiveForward")


def test_editor_imports_a_file(page, screenshot, tmp_path):
    upload = tmp_path / "startups.jsonl"
    upload.write_text(
        '{"name": "Lunar Bakery", "link": "https://lunarbakery.example", "city": "Chicago", '
        '"description": "Bread delivered before sunrise.", "alt": "Lunar Bakery - food"}\n'
        '{"name": "Broken Row"}\n'
    )
    log_in_to_admin(page)
    page.get_by_role("link", name="Import file").click()
    page.get_by_label("Startups data file").set_input_files(upload)
    page.get_by_role("button", name="Import").click()
    # The job's page reloads itself until the import has run.
    expect(page.locator(".job-status .job-state")).to_have_text("Done", timeout=60_000)
    expect(page.locator(".job-message")).to_have_text(
        "Imported: 1 created, 0 updated, 0 unchanged, 1 rejected."
    )
    expect(page.locator(".rejected-rows")).to_have_text("Line 2: link is missing")
    expect(page.locator(".job")).to_contain_text("1 indexed")
    screenshot(page, "admin-import")
    search(page, "fresh bread in the morning")
    expect(cards(page).first.locator("h3 a")).to_have_text("Lunar Bakery")
