"""Celery tasks that keep the index in step with the database.

Both take primary keys only (the delete task never needs the deleted row) and are idempotent, so
a redelivered or retried task does no harm. Store failures are retried with exponential backoff;
meanwhile the records say failed, with the error.
"""

import logging

from celery import shared_task

from .search import indexing
from .search.store import StoreIncompatible, StoreUnavailable

logger = logging.getLogger(__name__)

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


@shared_task(name="companies.repair_index")
def repair_index_task():
    """The periodic safety net: whatever drifted (missed tasks, writes that bypass signals)."""
    drift = indexing.check_index()
    if drift.incompatible:
        raise StoreIncompatible(drift.incompatible)
    if drift.clean:
        return {"drift": 0}
    logger.warning("Search index drift: %s; repairing", drift.summary(), extra={
        "event": "index_drift", "missing": len(drift.missing), "orphaned": len(drift.orphaned),
        "stale": len(drift.stale), "wrong_state": len(drift.wrong_state)})
    report = indexing.repair_index(drift)
    return {"drift": drift.total, "indexed": report.indexed, "removed": report.removed}
