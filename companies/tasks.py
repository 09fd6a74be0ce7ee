"""Celery tasks that keep the index in step with the database.

Both take primary keys only (the delete task never needs the deleted row) and are idempotent, so
a redelivered or retried task does no harm. Store failures are retried with exponential backoff;
meanwhile the records say failed, with the error.
"""

from celery import shared_task

from .search import indexing
from .search.store import StoreUnavailable

RETRY_OPTIONS = {
    "autoretry_for": (StoreUnavailable,),
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(name="companies.index", **RETRY_OPTIONS)
def index_companies_task(pks):
    report = indexing.index_companies(pks)
    return {"indexed": report.indexed, "unchanged": report.unchanged, "removed": report.removed}


@shared_task(name="companies.remove", **RETRY_OPTIONS)
def remove_companies_task(pks):
    indexing.remove_companies(pks)
    return {"removed": len(pks)}
