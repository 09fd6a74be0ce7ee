"""Admin imports and re-indexing run as jobs on a real Celery worker (Redis broker, PostgreSQL)."""

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
