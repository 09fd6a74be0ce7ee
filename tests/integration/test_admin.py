"""The admin on PostgreSQL: imports run as jobs by a real Celery worker (Redis broker), and
racing saves of one version keep exactly one."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from companies.models import Company, IndexStatus, Job
from companies.search.query import search_companies
from tests.helpers import wait_for_job

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CHANGELIST = "/admin/companies/company/"


def startups_file(*names):
    rows = [
        {
            "name": name,
            "alt": f"{name} - food and beverages",
            "description": f"{name} bakes bread before sunrise.",
            "link": f"https://{name.lower().replace(' ', '')}.example",
            "city": "Chicago",
        }
        for name in names
    ]
    data = "\n".join(json.dumps(row) for row in rows).encode()
    return SimpleUploadedFile("startups.jsonl", data)


def test_an_admin_import_is_run_by_the_worker(admin_client, celery_worker):
    response = admin_client.post(
        f"{CHANGELIST}import/", {"file": startups_file("Lunar Bakery", "Dawn Loaves")}
    )
    assert response.status_code == 302
    job = wait_for_job(Job.objects.get().pk)
    assert job.state == Job.State.DONE, job.message
    assert job.result["created"] == 2 and job.processed == 2 and job.payload == b""
    assert set(Company.objects.values_list("index_status", flat=True)) == {IndexStatus.INDEXED}
    assert search_companies("fresh bread in the morning").hits[0].company.name in {
        "Lunar Bakery",
        "Dawn Loaves",
    }
    html = admin_client.get(response["Location"]).content.decode()
    assert "Imported: 2 created, 0 updated, 0 unchanged, 0 rejected." in html


def test_a_redelivered_job_is_not_run_twice(admin_client, celery_worker):
    from companies.jobs import run_job_task

    admin_client.post(f"{CHANGELIST}import/", {"file": startups_file("Lunar Bakery")})
    job = wait_for_job(Job.objects.get().pk)
    finished_at = job.finished_at
    run_job_task(job.pk)  # as a redelivery would
    job.refresh_from_db()
    assert job.finished_at == finished_at and Company.objects.count() == 1


def test_racing_admin_saves_of_one_version_keep_exactly_one(admin_user, search_store):
    """Editors who opened the same version save at once: one wins, the others are refused."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection
    from django.test import Client

    from tests.factories import make_company

    company = make_company("Zephyr Labs", description="Opened text.", link="https://z.example")
    change_url = f"{CHANGELIST}{company.pk}/change/"

    def save(n):
        client = Client()
        client.force_login(admin_user)
        try:
            response = client.post(
                change_url,
                {
                    "name": company.name,
                    "slug": company.slug,
                    "city": "",
                    "description": f"Editor {n}'s text.",
                    "tags": "",
                    "link": company.link,
                    "image_url": "",
                    "searchable": "on",
                    "opened_version": company.version,
                },
            )
            return response.status_code, response.get("Location")
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(save, range(8)))
    saved = [answer for answer in answers if answer == (302, CHANGELIST)]
    refused = [answer for answer in answers if answer in ((200, None), (302, change_url))]
    assert len(saved) == 1 and len(refused) == 7, answers
    company.refresh_from_db()
    assert company.version == 2 and company.description.startswith("Editor ")
