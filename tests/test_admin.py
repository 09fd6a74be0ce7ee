"""Editors work in the Django admin; their edits reach the index, and they can see that it did."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models.signals import pre_save
from django.utils import timezone

from companies.models import Company, IndexStatus, Job
from companies.search.query import search_companies
from tests.factories import make_company
from tests.helpers import wait_for_job

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = "/admin/companies/company/"
IMPORT = "/admin/companies/company/import/"


def change_form_data(company, **changes):
    values = {
        "name": company.name,
        "slug": company.slug,
        "city": company.city,
        "description": company.description,
        "tags": company.tags,
        "link": company.link,
        "image_url": company.image_url,
        "opened_version": company.version,
    }
    if company.searchable:
        values["searchable"] = "on"  # a ticked box; an unticked one is not sent
    return {**values, **changes}


def names_listed(response):
    return [company.name for company in response.context["cl"].result_list]


def index_down(settings):
    settings.COMPANY_SEARCH = {**settings.COMPANY_SEARCH, "QDRANT_URL": "http://127.0.0.1:9"}


def test_changelist_searches_filters_and_shows_the_index_state(admin_client, search_store):
    make_company("Zephyr Labs", description="Quantum computing.", city="Boston")
    make_company("Harbor Dive", description="Scuba courses.", city="Miami")
    response = admin_client.get(CHANGELIST, {"q": "quantum"})
    html = response.content.decode()
    assert names_listed(response) == ["Zephyr Labs"]
    assert 'class="index-state index-state-indexed"' in html and "last indexed" in html.lower()
    assert names_listed(admin_client.get(CHANGELIST, {"city": "Miami"})) == ["Harbor Dive"]
    assert names_listed(admin_client.get(CHANGELIST, {"index_state": "failed"})) == []


def test_index_state_filter_tells_indexed_pending_failed_and_stale_apart(
    admin_client, search_store
):
    indexed = make_company("Indexed Co", description="Kept in step.")
    stale = make_company("Stale Co", description="Old text.")
    failed = make_company("Failed Co", description="Broken.")
    pending = make_company("Pending Co", description="Waiting.")
    # A write that bypasses signals leaves the index behind without anyone knowing.
    Company.objects.filter(pk=stale.pk).update(description="New text nobody indexed.")
    Company.objects.filter(pk=failed.pk).update(
        index_status=IndexStatus.FAILED, index_error="Qdrant said no"
    )
    Company.objects.filter(pk=pending.pk).update(index_status=IndexStatus.PENDING)

    def listed(state):
        return names_listed(admin_client.get(CHANGELIST, {"index_state": state}))

    assert listed("indexed") == [indexed.name]
    assert listed("stale") == [stale.name]
    assert listed("failed") == [failed.name]
    assert listed("pending") == [pending.name]
    html = admin_client.get(CHANGELIST).content.decode()
    assert 'index-state-stale" title="Changed without the index hearing of it' in html
    assert "Qdrant said no" in html  # the error is visible in the list


def test_editing_in_the_admin_reindexes_the_company(admin_client, search_store):
    company = make_company("Zephyr Labs", description="Underwater basket weaving lessons.")
    response = admin_client.post(
        f"{CHANGELIST}{company.pk}/change/",
        change_form_data(
            company, description="Solar panel installation for farms.", tags="clean energy"
        ),
    )
    assert response.status_code == 302
    company.refresh_from_db()
    assert company.index_status == IndexStatus.INDEXED
    assert search_companies("solar power for agriculture").hits[0].company == company


def test_a_saved_company_shows_pending_until_the_index_has_it(admin_client, broker_down):
    company = make_company("Zephyr Labs", description="Old text.")
    Company.objects.filter(pk=company.pk).update(index_status=IndexStatus.INDEXED)
    admin_client.post(
        f"{CHANGELIST}{company.pk}/change/", change_form_data(company, description="New text.")
    )
    company.refresh_from_db()
    assert company.index_status == IndexStatus.PENDING  # queued; no worker has indexed it
    row = admin_client.get(CHANGELIST).content.decode()
    assert 'index-state-pending" title="Not in the index yet' in row


def test_a_save_the_index_cannot_take_is_kept_and_shows_the_error(
    admin_client, search_store, settings
):
    company = make_company("Zephyr Labs", description="Old text.")
    index_down(settings)
    response = admin_client.post(
        f"{CHANGELIST}{company.pk}/change/", change_form_data(company, description="New text.")
    )
    assert response.status_code == 302
    company.refresh_from_db()
    assert company.description == "New text."
    assert company.index_status == IndexStatus.FAILED
    assert "unavailable" in company.index_error
    form = admin_client.get(f"{CHANGELIST}{company.pk}/change/").content.decode()
    assert "index-state-failed" in form and "The search index is unavailable" in form


def test_admin_refuses_a_second_company_with_the_same_website(admin_client, search_store):
    make_company("Zephyr Labs", link="https://zephyr.example")
    response = admin_client.post(
        "/admin/companies/company/add/",
        {
            "name": "Zephyr Clone",
            "slug": "zephyr-clone",
            "city": "",
            "description": "",
            "tags": "",
            "link": "http://www.zephyr.example/",
            "image_url": "",
        },
    )
    assert response.status_code == 200
    assert "Another company already has this website." in response.content.decode()
    assert Company.objects.count() == 1


def test_hide_and_show_actions_set_searchable_and_the_index_follows(admin_client, search_store):
    solar = make_company("Zephyr Labs", description="Solar panel installation for farms.")
    other = make_company("Harbor Dive", description="Scuba diving courses.")
    version = solar.version
    response = admin_client.post(
        CHANGELIST, {"action": "hide_from_search", "_selected_action": [solar.pk]}, follow=True
    )
    assert "1 company hidden from search" in response.content.decode()
    solar.refresh_from_db()
    assert solar.searchable is False and solar.version == version + 1  # saved: signals sent
    assert Company.objects.get(pk=other.pk).searchable is True
    hidden = admin_client.get(CHANGELIST, {"searchable__exact": "0"})
    assert names_listed(hidden) == ["Zephyr Labs"]

    response = admin_client.post(
        CHANGELIST, {"action": "show_in_search", "_selected_action": [solar.pk]}, follow=True
    )
    assert "1 company shown in search again." in response.content.decode()
    solar.refresh_from_db()
    assert solar.searchable is True and solar.index_status == IndexStatus.INDEXED
    assert search_companies("solar farms").hits[0].company == solar


def test_searchable_is_edited_in_the_change_form(admin_client, search_store):
    company = make_company("Zephyr Labs", description="Solar panel installation for farms.")
    form = admin_client.get(f"{CHANGELIST}{company.pk}/change/").content.decode()
    assert 'name="searchable"' in form and 'name="opened_version"' in form
    data = change_form_data(company)
    del data["searchable"]  # the box unticked
    assert admin_client.post(f"{CHANGELIST}{company.pk}/change/", data).status_code == 302
    company.refresh_from_db()
    assert company.searchable is False


def test_a_save_over_a_change_made_meanwhile_is_refused_and_writes_nothing(
    admin_client, search_store
):
    company = make_company("Zephyr Labs", description="Opened text.")
    opened = change_form_data(company, description="Editor A's text.")
    # Someone else saves after the form was opened.
    other = Company.objects.get(pk=company.pk)
    other.description = "Editor B's text."
    other.save()
    response = admin_client.post(f"{CHANGELIST}{company.pk}/change/", opened)
    assert response.status_code == 200
    html = response.content.decode()
    assert "changed by someone else since you opened it" in html
    assert "Editor A&#x27;s text." in html  # the editor's input is kept in the form
    company.refresh_from_db()
    assert company.description == "Editor B's text." and company.version == 2


def race(change):
    """Make ``change`` in the database just before the admin's save reaches it.

    It runs inside the admin's transaction (SQLite takes its write lock at the start, so no
    second connection could write there); the refused save rolls it back with the rest.
    """

    def receiver(sender, instance, **kwargs):
        pre_save.disconnect(receiver, sender=Company)
        change(instance.pk)

    pre_save.connect(receiver, sender=Company, weak=False)


def test_a_change_landing_between_the_check_and_the_save_is_refused(admin_client, search_store):
    company = make_company("Zephyr Labs", description="Opened text.")
    race(lambda pk: Company.objects.filter(pk=pk).update(version=99, description="Other text."))
    response = admin_client.post(
        f"{CHANGELIST}{company.pk}/change/",
        change_form_data(company, description="Editor's text."),
        follow=True,
    )
    assert response.status_code == 200
    assert "changed by someone else since you opened it" in response.content.decode()
    company.refresh_from_db()
    assert company.description == "Opened text."  # the editor's text was not written


def test_saving_a_company_deleted_meanwhile_says_so(admin_client, search_store):
    company = make_company("Zephyr Labs", description="Opened text.")
    race(lambda pk: Company.objects.filter(pk=pk).delete())
    response = admin_client.post(
        f"{CHANGELIST}{company.pk}/change/",
        change_form_data(company, description="Editor's text."),
        follow=True,
    )
    assert response.status_code == 200
    assert "was deleted by someone else while you edited it" in response.content.decode()
    assert Company.objects.get().description == "Opened text."  # nothing written


def test_the_admin_refuses_a_name_without_a_visible_character(admin_client, search_store):
    company = make_company("Zephyr Labs")
    response = admin_client.post(
        f"{CHANGELIST}{company.pk}/change/", change_form_data(company, name="\u200b\u3164")
    )
    assert response.status_code == 200
    assert "Enter a name with at least one visible character." in response.content.decode()
    assert Company.objects.get().name == "Zephyr Labs"


def reindex_job(admin_client, pks):
    response = admin_client.post(CHANGELIST, {"action": "reindex", "_selected_action": pks})
    assert response.status_code == 302
    job = Job.objects.get(kind=Job.Kind.REINDEX)
    assert response["Location"] == f"{CHANGELIST}jobs/{job.pk}/"
    return wait_for_job(job.pk)


def test_reindex_catches_up_a_stale_company(admin_client, search_store):
    company = make_company("Zephyr Labs", description="Underwater basket weaving lessons.")
    Company.objects.filter(pk=company.pk).update(description="Quantum computing in the cloud.")
    job = reindex_job(admin_client, [company.pk])
    assert job.state == Job.State.DONE and job.processed == job.total == 1
    html = admin_client.get(f"{CHANGELIST}jobs/{job.pk}/").content.decode()
    assert "Re-indexed 1 company." in html and "1 indexed" in html
    assert 'http-equiv="refresh"' not in html  # finished: no more reloading
    company.refresh_from_db()
    assert company.index_status == IndexStatus.INDEXED
    assert search_companies("quantum cloud computing").hits[0].company == company


def test_reindex_with_the_index_down_says_which_failed(admin_client, search_store, settings):
    company = make_company("Zephyr Labs", description="Scuba.")
    index_down(settings)
    job = reindex_job(admin_client, [company.pk])
    assert job.state == Job.State.FAILED and "Indexing failed" in job.message
    html = admin_client.get(f"{CHANGELIST}jobs/{job.pk}/").content.decode()
    assert "1 failed" in html and "re-index them once the index is available" in html
    company.refresh_from_db()
    assert company.index_status == IndexStatus.FAILED


# Import --------------------------------------------------------------------------------------


def startups_file(*rows, name="startups.jsonl"):
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    return SimpleUploadedFile(name, "\n".join(lines).encode(), content_type="application/json")


def startup(name, **fields):
    slug = name.lower().replace(" ", "")
    return {
        "name": name,
        "images": "",
        "alt": f"{name} - fintech",
        "city": "Chicago",
        "description": f"{name} makes payments simple.",
        "link": f"https://{slug}.example",
        **fields,
    }


def test_changelist_links_to_the_import_page(admin_client, search_store):
    html = admin_client.get(CHANGELIST).content.decode()
    assert f'href="{IMPORT}"' in html
    form = admin_client.get(IMPORT)
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.content.decode()


def upload(admin_client, upload):
    """Post ``upload`` to the import page; the job it started, once finished."""
    response = admin_client.post(IMPORT, {"file": upload})
    assert response.status_code == 302
    job = Job.objects.get(kind=Job.Kind.IMPORT)
    assert response["Location"] == f"{CHANGELIST}jobs/{job.pk}/"
    return wait_for_job(job.pk)


def test_import_runs_as_a_job_that_indexes_and_lists_rejected_rows(admin_client, search_store):
    make_company("Acme Pay", link="https://acmepay.example", description="Old text.")
    job = upload(
        admin_client,
        startups_file(
            startup("Acme Pay", description="Acme Pay moves money across borders."),
            startup("Lunar Bakery", description="Bread delivered before sunrise."),
            "{not json",
            startup("No Link", link=""),
            startup("\u2800", link="https://blank.example"),
            startup("Files Co", link="ftp://files.example"),
        ),
    )
    assert job.state == Job.State.DONE and job.payload == b""
    assert job.processed == job.total == 2
    html = admin_client.get(f"{CHANGELIST}jobs/{job.pk}/").content.decode()
    assert "Imported: 1 created, 1 updated, 0 unchanged, 4 rejected." in html
    assert "Line 3: not valid JSON" in html and "Line 4: link is missing" in html
    assert "Line 5: name: Enter a name with at least one visible character." in html
    assert "Line 6: link: Enter a valid URL. (&#x27;ftp://files.example&#x27;)" in html
    assert "2 indexed" in html
    assert Company.objects.get(name="Acme Pay").description.startswith("Acme Pay moves money")
    bakery = Company.objects.get(name="Lunar Bakery")
    assert bakery.index_status == IndexStatus.INDEXED
    assert search_companies("fresh bread in the morning").hits[0].company == bakery
    # The import page lists the job.
    assert f'href="{CHANGELIST}jobs/{job.pk}/"' in admin_client.get(IMPORT).content.decode()


def test_a_running_job_page_reloads_itself_and_shows_its_counts(admin_client):
    job = Job.objects.create(
        kind=Job.Kind.IMPORT,
        title="startups.jsonl",
        state=Job.State.RUNNING,
        stage="Indexing",
        total=40,
        processed=16,
        result={"created": 40, "updated": 0, "unchanged": 0, "rejected": 0},
    )
    response = admin_client.get(f"{CHANGELIST}jobs/{job.pk}/")
    html = response.content.decode()
    assert '<meta http-equiv="refresh" content="2">' in html
    assert "Running" in html and "16 of 40 companies indexed" in html
    assert f'<a href="{CHANGELIST}jobs/{job.pk}/">Reload now</a>' in html
    assert admin_client.get(f"{CHANGELIST}jobs/{job.pk + 1}/").status_code == 404
    assert "No progress since" not in html
    Job.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(minutes=11))
    html = admin_client.get(f"{CHANGELIST}jobs/{job.pk}/").content.decode()
    assert "the process running this job has most likely stopped" in html


def test_a_file_that_is_not_json_fails_its_job_and_changes_nothing(admin_client, search_store):
    make_company("Acme Pay")
    job = upload(
        admin_client,
        SimpleUploadedFile("startups.json", b'[{"name": "A", "link": "https://a.example"}'),
    )
    assert job.state == Job.State.FAILED
    assert job.message.startswith("The JSON array is not closed with ].")
    assert (
        "Nothing was imported." in admin_client.get(f"{CHANGELIST}jobs/{job.pk}/").content.decode()
    )
    assert list(Company.objects.values_list("name", flat=True)) == ["Acme Pay"]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\xff\xfe not utf-8", "The file is not UTF-8 text"),
        (b"", "The submitted file is empty."),
        (b" \n\t\n", "The file is empty. Nothing was imported."),
    ],
)
def test_a_bad_import_file_is_refused_and_changes_nothing(
    admin_client, search_store, content, message
):
    make_company("Acme Pay")
    upload = SimpleUploadedFile("startups.json", content)
    response = admin_client.post(IMPORT, {"file": upload})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert list(Company.objects.values_list("name", flat=True)) == ["Acme Pay"]
    assert not Job.objects.exists()


def test_an_import_without_a_file_asks_for_one(admin_client, search_store):
    response = admin_client.post(IMPORT, {})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()


def test_an_oversized_import_is_refused_unread(admin_client, search_store, settings):
    settings.COMPANY_IMPORT_MAX_BYTES = 200
    upload = startups_file(*(startup(f"Company {n}") for n in range(5)))
    response = admin_client.post(IMPORT, {"file": upload})
    assert response.status_code == 413
    assert "The file is larger than 200\xa0bytes: nothing was imported." in (
        response.content.decode()
    )
    assert Company.objects.count() == 0 and not Job.objects.exists()


def test_import_needs_add_and_change_permissions(client, search_store):
    clerk = User.objects.create_user("clerk", password="pw-for-tests-only", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_company"))
    client.force_login(clerk)
    assert client.get(IMPORT).status_code == 403
    upload = startups_file(startup("Lunar Bakery"))
    assert client.post(IMPORT, {"file": upload}).status_code == 403
    assert Company.objects.count() == 0
    client.logout()
    assert client.get(IMPORT).status_code == 302  # to the login page


def test_import_checks_the_csrf_token(search_store):
    from django.test import Client

    admin = User.objects.create_superuser("boss", "boss@example.com", "pw-for-tests-only")
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post(IMPORT, {"file": startups_file(startup("Lunar Bakery"))})
    assert response.status_code == 403
    assert Company.objects.count() == 0


@pytest.mark.parametrize("selection", [["abc"], ["1\x00"], ["99999999999999999999999"], [""]])
def test_a_forged_action_selection_is_refused_with_a_message(admin_client, search_store, selection):
    company = make_company("Solar Grid", description="Solar panels.")
    response = admin_client.post(
        CHANGELIST, {"action": "hide_from_search", "_selected_action": selection}, follow=True
    )
    assert response.status_code == 200
    assert "The selection is not valid: nothing was done." in response.content.decode()
    assert Company.objects.get(pk=company.pk).searchable is True


def test_an_overlong_admin_search_is_a_400(admin_client):
    assert admin_client.get(CHANGELIST, {"q": "x" * 1001}).status_code == 400
    assert admin_client.get(CHANGELIST, {"q": "x" * 1000}).status_code == 200


def test_a_job_the_queue_cannot_take_says_so(admin_client, broker_down):
    job = upload(admin_client, startups_file(startup("Lunar Bakery")))
    assert job.state == Job.State.FAILED
    assert job.message.startswith("Could not queue the job")
    assert not Company.objects.exists()


def test_an_import_the_database_refuses_fails_its_job_and_writes_nothing(
    admin_client, search_store
):
    from django.db import connection

    make_company("Acme Pay", link="https://acmepay.example", description="Old text.")
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TRIGGER refuse_update BEFORE UPDATE ON companies_company "
            "BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END"
        )
    try:
        job = upload(
            admin_client,
            startups_file(startup("New Co"), startup("Acme Pay", link="https://acmepay.example")),
        )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER refuse_update")
    assert job.state == Job.State.FAILED
    assert job.message.startswith("The database refused the import (refused by trigger).")
    assert list(Company.objects.values_list("name", "description")) == [("Acme Pay", "Old text.")]
