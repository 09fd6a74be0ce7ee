"""Long admin work out of the request: imports and re-indexing run as jobs.

The admin writes a ``Job`` row and answers at once with the job's progress page. The work runs
where indexing runs (the signal processor's choice, made in settings): a Celery task when a broker
is configured, else a thread of the web process (the embedded default). Either way it counts on
the row as it goes and ends by optimising the index, as the import command does.

A job is claimed by moving it from queued to running in one UPDATE, so a redelivered task never
runs it twice.
"""

import logging
import threading

from celery import shared_task
from django.db import DatabaseError, close_old_connections, connections, transaction
from django.db.models import Count, F
from django.utils import timezone

from .importing import ImportFileError, import_companies
from .models import Company, IndexStatus, Job
from .search import indexing, landscape
from .signals import CelerySignalProcessor, signal_processor

logger = logging.getLogger(__name__)

# Rejected rows kept on the job for its page; the rest are counted.
MAX_REJECTED_KEPT = 200
NOTHING = "Nothing was imported."


def start_import(name, data, user=None):
    """Queue the import of file ``data`` (bytes) and return its job."""
    job = Job.objects.create(
        kind=Job.Kind.IMPORT, title=name[:300], payload=data, created_by=user, stage="Queued"
    )
    _launch(job.pk)
    return job


def start_reindex(pks, user=None):
    """Queue the re-indexing of companies ``pks`` and return its job."""
    pks = list(pks)
    title = f"{len(pks)} compan{'y' if len(pks) == 1 else 'ies'}"
    job = Job.objects.create(
        kind=Job.Kind.REINDEX,
        title=title,
        company_ids=pks,
        total=len(pks),
        created_by=user,
        stage="Queued",
    )
    _launch(job.pk)
    return job


def _launch(pk):
    """Start the job once its row is committed (a worker must be able to read it)."""
    transaction.on_commit(lambda: _dispatch(pk), robust=True)


def _dispatch(pk):
    if isinstance(signal_processor(), CelerySignalProcessor):
        try:
            run_job_task.delay(pk)
        except Exception as exc:  # kombu raises several types; say it on the job
            _finish(pk, Job.State.FAILED, f"Could not queue the job ({exc}); try again later.")
        return
    threading.Thread(target=_run_in_thread, args=(pk,), name=f"job-{pk}", daemon=True).start()


def _run_in_thread(pk):
    try:
        run_job(pk)
    except Exception as exc:  # run_job records its own failures; this is one it could not
        logger.exception(
            "Job %s could not run", pk, extra={"event": "job_failed", "job": pk, "error": str(exc)}
        )
    finally:
        connections.close_all()  # this thread's connections end with it


@shared_task(name="companies.run_job", acks_late=True)
def run_job_task(pk):
    close_old_connections()
    run_job(pk)


def run_job(pk):
    """Run queued job ``pk`` to the end; a job already claimed is left alone."""
    claimed = Job.objects.filter(pk=pk, state=Job.State.QUEUED).update(
        state=Job.State.RUNNING, started_at=timezone.now(), stage="Starting"
    )
    if not claimed:
        return
    job = Job.objects.get(pk=pk)
    try:
        RUNNERS[job.kind](job)
    except ImportFileError as exc:
        _finish(pk, Job.State.FAILED, f"{exc} {NOTHING}")
    except Exception as exc:
        logger.exception(
            "Job %s failed", pk, extra={"event": "job_failed", "job": pk, "error": str(exc)}
        )
        _finish(pk, Job.State.FAILED, f"{type(exc).__name__}: {exc}")


def _run_import(job):
    _update(job.pk, stage="Checking the rows and writing them to the database")
    try:
        result = import_companies(bytes(job.payload))
    except DatabaseError as exc:  # one transaction: rolled back whole
        _finish(job.pk, Job.State.FAILED, f"The database refused the import ({exc}). " + NOTHING)
        return
    _update(
        job.pk,
        payload=b"",  # read: the file need not be kept
        total=len(result.company_ids),
        result={
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "rejected": len(result.rejected),
            "rejected_rows": [
                {"line": row.line, "reason": row.reason}
                for row in result.rejected[:MAX_REJECTED_KEPT]
            ],
        },
    )
    indexing.mark_pending(result.company_ids)
    _index(job.pk, result.company_ids, f"Imported: {result.summary}.")


def _run_reindex(job):
    pks = list(Company.objects.filter(pk__in=job.company_ids).values_list("pk", flat=True))
    indexing.mark_for_reindex(pks)
    # Deleted meanwhile: their points go too (index_companies removes what no longer exists).
    _index(job.pk, job.company_ids, f"Re-indexed {job.title}.")


def _index(pk, pks, summary):
    """Index ``pks`` counting on job ``pk``, optimise the index, and finish the job."""
    _update(pk, stage="Indexing")

    def progress(done):
        Job.objects.filter(pk=pk).update(processed=F("processed") + done, updated_at=timezone.now())

    try:
        indexing.index_companies(pks, progress=progress)
    except Exception as exc:
        states = _index_states(pks)
        _finish(
            pk,
            Job.State.FAILED,
            f"{summary} Indexing failed ({exc}): the records are kept and marked failed; "
            "re-index them once the index is available.",
            index_states=states,
        )
        return
    _update(pk, stage="Optimising the index")
    indexing.optimize_index()
    _update(pk, stage="Laying out the map")
    landscape.build_landscape()
    _finish(pk, Job.State.DONE, summary, index_states=_index_states(pks))


def _index_states(pks):
    counts = dict(
        Company.objects.filter(pk__in=pks)
        .values_list("index_status")
        .order_by()
        .annotate(n=Count("pk"))
    )
    return {state: counts[state] for state in IndexStatus.values if counts.get(state)}


def _update(pk, **fields):
    Job.objects.filter(pk=pk).update(**fields, updated_at=timezone.now())


def _finish(pk, state, message, **result):
    job = Job.objects.get(pk=pk)
    job.result = {**job.result, **result}
    job.state, job.message, job.stage = state, message, ""
    job.finished_at = timezone.now()
    job.payload = b""
    job.save(
        update_fields=[
            "result",
            "state",
            "message",
            "stage",
            "finished_at",
            "payload",
            "updated_at",
        ]
    )


RUNNERS = {Job.Kind.IMPORT: _run_import, Job.Kind.REINDEX: _run_reindex}
