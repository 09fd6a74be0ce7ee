"""The admin's "Search insights" report, and the curation and synonym admins."""

import re
import uuid
from datetime import timedelta
from urllib.parse import quote_plus

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from companies import insights
from companies.models import Company, Curation, SearchClick, SearchLog, SynonymGroup

pytestmark = pytest.mark.django_db
REPORT = "/admin/companies/searchinsight/"


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", password="root-password")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def log(query, count, *, latency=10.0, surface="page", days_ago=0, offset=0, clicks=()):
    """A logged search, and clicks on it at the given positions."""
    search_id = uuid.uuid4()
    when = timezone.now() - timedelta(days=days_ago, minutes=1)
    SearchLog.objects.create(
        search_id=search_id,
        query=query,
        mode="hybrid",
        count=count,
        offset=offset,
        latency_ms=latency,
        surface=surface,
        created_at=when,
    )
    for position in clicks:
        SearchClick.objects.create(
            search_id=search_id,
            query=query,
            company_id=1,
            position=position,
            target="page",
            created_at=when,
        )


@pytest.fixture
def traffic():
    for latency in (5, 6, 7, 8):
        log("parking app", 12, latency=latency, clicks=[1])
    log("parking app", 12, latency=9, clicks=[3, 4])
    log("parking app", 12, latency=100)  # no click
    log("parking app", 12, offset=10)  # a second page: not a new search
    log("quantum bakery", 0, latency=20)
    log("quantum bakery", 0, latency=30, surface="api")
    log("robot lawyers", 4, latency=40)
    log("robot lawyers", 4, latency=50)
    log("old query", 3, days_ago=40)


def test_the_report_adds_up(traffic):
    report = insights.report(30)
    assert report.searches == 10
    assert report.zero_result_searches == 2
    assert report.page_searches_with_results == 8
    assert report.clicked_searches == 5 and report.click_through_rate == 5 / 8
    assert report.clicks == 6 and report.mean_click_position == pytest.approx(11 / 6)
    assert (report.latency_p50, report.latency_p95) == (9, 100)
    assert [(row.query, row.searches) for row in report.top_queries] == [
        ("parking app", 6),
        ("quantum bakery", 2),
        ("robot lawyers", 2),
    ]
    assert [row.query for row in report.zero_result_queries] == ["quantum bakery"]
    assert [row.query for row in report.unclicked_queries] == ["robot lawyers"]
    assert len(report.per_day) == 31 and sum(bar.searches for bar in report.per_day) == 10
    assert insights.report(90).searches == 11


def test_the_admin_index_links_to_search_insights(admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert re.search(rf'<a href="{REPORT}"[^>]*>Search insights</a>', html)


def test_the_report_page_shows_the_figures_and_links_each_query(admin_client, traffic):
    Curation.objects.create(query="Robot lawyers")
    response = admin_client.get(REPORT, {"days": "7"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<svg" in html and html.count("<rect") == 8  # one bar per day of the period
    assert "62.5% (5 of 8)" in html and "9.0 ms / 100.0 ms" in html
    zero = html[html.index('id="zero"') : html.index('id="unclicked"')]
    assert 'href="/search/?q=quantum%20bakery"' in zero
    add_url = reverse("admin:companies_curation_add")
    assert f'href="{add_url}?query=quantum%20bakery"' in zero and "Create a curation" in zero
    unclicked = html[html.index('id="unclicked"') :]
    curation = Curation.objects.get()
    assert reverse("admin:companies_curation_change", args=[curation.pk]) in unclicked
    assert "old query" not in html


@pytest.mark.parametrize("days", ["", "abc", "-1", "99999999999999999999"])
def test_an_odd_period_falls_back_to_the_default(admin_client, days):
    response = admin_client.get(REPORT, {"days": days})
    assert (
        response.status_code == 200
        and '<strong aria-current="true">30 days' in response.content.decode()
    )


def test_the_report_needs_its_view_permission(client, django_user_model):
    staff = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(staff)
    assert client.get(REPORT).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_searchinsight"))
    assert client.get(REPORT).status_code == 200
    assert client.get(f"{REPORT}add/").status_code == 302


def test_create_a_curation_in_the_admin_from_the_report(admin_client):
    companies = [
        Company.objects.create(name=f"Co {i}", slug=f"co-{i}", city="Chicago") for i in range(3)
    ]
    add_url = reverse("admin:companies_curation_add")
    form = admin_client.get(f"{add_url}?query={quote_plus('quantum bakery')}").content.decode()
    assert 'value="quantum bakery"' in form
    response = admin_client.post(
        add_url,
        {
            "query": "Quantum Bakery",
            "hidden": str(companies[2].pk),
            "pins-TOTAL_FORMS": "2",
            "pins-INITIAL_FORMS": "0",
            "pins-0-position": "1",
            "pins-0-company": str(companies[1].pk),
            "pins-1-position": "2",
            "pins-1-company": str(companies[0].pk),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    curation = Curation.objects.get()
    assert curation.query_key == "quantum bakery"
    assert [pin.company_id for pin in curation.pins.all()] == [companies[1].pk, companies[0].pk]
    assert list(curation.hidden.values_list("pk", flat=True)) == [companies[2].pk]


def test_the_admin_refuses_a_second_curation_of_the_same_query(admin_client):
    Curation.objects.create(query="parking app")
    response = admin_client.post(
        reverse("admin:companies_curation_add"),
        {"query": "Parking-App", "pins-TOTAL_FORMS": "0", "pins-INITIAL_FORMS": "0"},
    )
    assert response.status_code == 200 and "already has a curation" in response.content.decode()
    assert Curation.objects.count() == 1


@pytest.mark.parametrize("terms", ["ev", "ev, EV", " , ", "ev,,  ,Ev!"])
def test_a_synonym_group_needs_two_different_terms(admin_client, terms):
    response = admin_client.post(reverse("admin:companies_synonymgroup_add"), {"terms": terms})
    assert (
        response.status_code == 200 and "at least two different terms" in response.content.decode()
    )
    assert not SynonymGroup.objects.exists()


def test_a_synonym_group_is_stored_normalised(admin_client):
    response = admin_client.post(
        reverse("admin:companies_synonymgroup_add"), {"terms": " EV , Electric   Vehicle, ev"}
    )
    assert response.status_code == 302
    assert SynonymGroup.objects.get().terms == "ev, electric vehicle"


@pytest.mark.parametrize(
    "hidden", ["\u00b2", "\u2460", "99999999999999999999", "1" * 5000, "-1", "abc", "1,,1"]
)
def test_hidden_ids_that_can_be_no_company_are_a_form_error(admin_client, hidden):
    """ "²" passes str.isdigit but not int(), an id past 2**63 is an error to SQLite: refused
    as ids before either sees them."""
    response = admin_client.post(
        reverse("admin:companies_curation_add"),
        {"query": "q", "hidden": hidden, "pins-TOTAL_FORMS": "0", "pins-INITIAL_FORMS": "0"},
    )
    assert response.status_code == 200 and "errornote" in response.content.decode()
    assert not Curation.objects.exists()


@pytest.mark.parametrize("terms", ["\u00df" * 400 + ", x", "\ufdfa" * 30 + ", x"])
def test_a_synonym_group_longer_than_its_column_once_normalised_is_a_form_error(
    admin_client, terms
):
    response = admin_client.post(reverse("admin:companies_synonymgroup_add"), {"terms": terms})
    assert response.status_code == 200 and "Enter shorter terms" in response.content.decode()
    assert not SynonymGroup.objects.exists()


@pytest.mark.parametrize("existing", [False, True])
def test_a_company_pinned_twice_or_pinned_and_hidden_is_a_form_error(admin_client, existing):
    company = Company.objects.create(name="Co", slug="co", city="Chicago")
    url = reverse("admin:companies_curation_add")
    pins = {"pins-INITIAL_FORMS": "0"}
    if existing:
        curation = Curation.objects.create(query="q")
        url = reverse("admin:companies_curation_change", args=[curation.pk])
    for form in (
        {"pins-TOTAL_FORMS": "2", "pins-1-position": "2", "pins-1-company": str(company.pk)},
        {"pins-TOTAL_FORMS": "1", "hidden": str(company.pk)},
    ):
        data = {"query": "q", **pins, "pins-0-position": "1", "pins-0-company": str(company.pk)}
        response = admin_client.post(url, {**data, **form})
        assert response.status_code == 200, response.status_code
        assert "errornote" in response.content.decode()
    assert not Curation.objects.filter(pins__isnull=False).exists()
