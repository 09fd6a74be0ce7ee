"""Celery tasks that keep the index in step with the database.

Both take primary keys only (the delete task never needs the deleted row) and are idempotent, so
a redelivered or retried task does no harm. Store failures are retried with exponential backoff;
meanwhile the records say failed, with the error.
"""

import logging

from celery import shared_task

from . import searchlog
from .models import Company, IndexStatus
from .search import indexing
from .search.store import StoreUnavailable

logger = logging.getLogger(__name__)

RETRY_OPTIONS = {
    "autoretry_for": (StoreUnavailable,),
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 8,
}


# Pending companies a task takes along with its own (see index_companies_task).
TAKE_ALONG = 63


@shared_task(name="companies.index", **RETRY_OPTIONS)
def index_companies_task(pks):
    """Index ``pks``, and other companies still pending, in one batch.

    Each save queues a task of its own; in a burst the queue grows faster than one-by-one
    embedding drains it. Taking the pending companies along embeds them together (the model is
    much faster per text in batches), and the tasks queued for them then find nothing left to do.
    """
    along = list(
        Company.objects.filter(index_status=IndexStatus.PENDING)
        .exclude(pk__in=pks)
        .order_by("updated_at")
        .values_list("pk", flat=True)[:TAKE_ALONG]
    )
    report = indexing.index_companies(list(pks) + along)
    return {"indexed": report.indexed, "unchanged": report.unchanged, "removed": report.removed}


@shared_task(name="companies.remove", **RETRY_OPTIONS)
def remove_companies_task(pks):
    indexing.remove_companies(pks)
    return {"removed": len(pks)}


@shared_task(name="companies.repair_index")
def repair_index_task():
    """The periodic safety net: whatever drifted (missed tasks, writes that bypass signals)."""
    return indexing.check_and_repair()


@shared_task(name="companies.purge_search_log")
def purge_search_log_task():
    """Daily: searches and clicks older than ``SEARCH_LOG_DAYS`` leave the log."""
    return searchlog.purge()
