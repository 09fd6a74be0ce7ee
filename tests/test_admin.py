"""Editors work in the Django admin; their edits reach the index."""

import pytest

from companies.models import Company, IndexStatus
from companies.search.query import search_companies
from tests.factories import make_company

pytestmark = pytest.mark.django_db(transaction=True)


def test_changelist_searches_filters_and_shows_the_index_state(admin_client, search_store):
    make_company("Zephyr Labs", description="Quantum computing.", city="Boston")
    make_company("Harbor Dive", description="Scuba courses.", city="Miami")
    html = admin_client.get("/admin/companies/company/", {"q": "quantum"}).content.decode()
    assert "Zephyr Labs" in html and "Harbor Dive" not in html and "Indexed" in html
    html = admin_client.get("/admin/companies/company/", {"city": "Miami"}).content.decode()
    assert "Harbor Dive" in html and "Zephyr Labs" not in html
    html = admin_client.get("/admin/companies/company/", {"index_status__exact": "failed"})
    assert "Zephyr Labs" not in html.content.decode()


def test_editing_in_the_admin_reindexes_the_company(admin_client, search_store):
    company = make_company("Zephyr Labs", description="Underwater basket weaving lessons.")
    response = admin_client.post(
        f"/admin/companies/company/{company.pk}/change/",
        {
            "name": "Zephyr Labs", "slug": company.slug, "city": "Chicago",
            "description": "Solar panel installation for farms.", "tags": "clean energy",
            "link": company.link, "image_url": "",
        },
    )
    assert response.status_code == 302
    company.refresh_from_db()
    assert company.index_status == IndexStatus.INDEXED
    assert search_companies("solar power for agriculture").hits[0].company == company


def test_admin_refuses_a_second_company_with_the_same_website(admin_client, search_store):
    make_company("Zephyr Labs", link="https://zephyr.example")
    response = admin_client.post(
        "/admin/companies/company/add/",
        {"name": "Zephyr Clone", "slug": "zephyr-clone", "city": "", "description": "",
         "tags": "", "link": "http://www.zephyr.example/", "image_url": ""},
    )
    assert response.status_code == 200
    assert "Another company already has this website." in response.content.decode()
    assert Company.objects.count() == 1
