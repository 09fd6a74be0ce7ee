"""The search log: what was searched and which results were opened, written off the request path.

A request only puts a row on a bounded in-memory queue (microseconds); a daemon thread drains it
in batches with ``bulk_create``, at most one write transaction per ``BATCH_SECONDS``. When the
database is slower than the traffic and the queue is full, rows are dropped and counted
(``writer.dropped``) rather than making a visitor wait. What is still queued is written when the
process exits. Nothing about the visitor is kept: no IP address, no user agent, no user.
"""

import atexit
import logging
import queue
import threading
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, DataError, IntegrityError, close_old_connections, connection
from django.utils import timezone

from .models import MAX_QUERY_KEY, SearchClick, SearchLog, query_key

logger = logging.getLogger(__name__)

# Result ids kept per search: enough for the first page on any surface.
LOGGED_RESULTS = 10
BATCH_SIZE = 500
BATCH_SECONDS = 0.5
EXIT_FLUSH_SECONDS = 5
# After this long without rows, the writer closes its database connection.
IDLE_SECONDS = 1


class LogWriter:
    """A bounded queue of unsaved log rows and the daemon thread that saves them in batches."""

    def __init__(self, maxsize):
        self.queue = queue.Queue(maxsize)
        self.dropped = 0
        self.written = 0
        self._lock = threading.Lock()
        self._thread = None

    def put(self, row):
        """Queue ``row`` (an unsaved model instance) for writing; never blocks."""
        self._start()
        try:
            self.queue.put_nowait(row)
        except queue.Full:
            with self._lock:
                self.dropped += 1
                dropped = self.dropped
            if dropped in (1, 10, 100) or dropped % 1000 == 0:
                logger.warning(
                    "Search log queue full: %d rows dropped so far",
                    dropped,
                    extra={"event": "search_log_dropped", "dropped": dropped},
                )

    def flush(self, timeout=None):
        """Wait until every row queued so far is written (or ``timeout`` seconds pass)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.queue.unfinished_tasks:
            if deadline is not None and time.monotonic() > deadline:
                return False
            if self._thread is None or not self._thread.is_alive():
                self._drain_here()
            else:
                time.sleep(0.005)
        return True

    def _start(self):
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="search-log", daemon=True)
                self._thread.start()

    def _run(self):
        while True:
            try:
                batch = [self.queue.get(timeout=IDLE_SECONDS)]
            except queue.Empty:
                connection.close()  # idle: hold no database connection
                continue
            # Gather what comes within BATCH_SECONDS: one write transaction for them all, so
            # the database sees a few writes a second however busy the site is.
            deadline = time.monotonic() + BATCH_SECONDS
            while len(batch) < BATCH_SIZE:
                remaining = deadline - time.monotonic()
                try:
                    batch.append(self.queue.get(timeout=max(remaining, 0)))
                except queue.Empty:
                    break
            try:
                self._write(batch)
            finally:
                for _ in batch:
                    self.queue.task_done()

    def _drain_here(self):
        """Write what is queued from the calling thread (at exit, the daemon may be gone)."""
        batch = []
        while True:
            try:
                batch.append(self.queue.get_nowait())
            except queue.Empty:
                break
        try:
            if batch:
                self._write(batch)
        finally:
            for _ in batch:
                self.queue.task_done()

    def _write(self, batch):
        close_old_connections()
        dropped, error = 0, None
        for model in (SearchLog, SearchClick):
            rows = [row for row in batch if type(row) is model]
            try:
                if rows:
                    model.objects.bulk_create(rows, batch_size=BATCH_SIZE)
            except (DataError, IntegrityError):
                # A row the database refuses does not take the rest of the batch with it.
                refused, row_error = self._one_by_one(model, rows)
                dropped, error = dropped + refused, row_error or error
            except Exception as exc:  # the log never takes a request or the process down
                dropped, error = dropped + len(rows), exc
                connection.close()
        with self._lock:
            self.written += len(batch) - dropped
            self.dropped += dropped
        if error is not None:
            logger.warning(
                "Search log rows not written: %s",
                error,
                extra={"event": "search_log_failed", "rows": dropped, "error": str(error)},
            )

    def _one_by_one(self, model, rows):
        """``(rows refused, the last error)``, writing each of ``rows`` on its own."""
        refused, error = 0, None
        for row in rows:
            try:
                row.save(force_insert=True)
            except DatabaseError as exc:
                refused, error = refused + 1, exc
        return refused, error


writer = LogWriter(maxsize=getattr(settings, "SEARCH_LOG_QUEUE_SIZE", 10_000))
atexit.register(writer.flush, EXIT_FLUSH_SECONDS)


def enabled():
    return getattr(settings, "SEARCH_LOG_ENABLED", True)


def logged_query(text):
    """A search as the log keeps it: its ``query_key``, cut to the column (normalising can
    lengthen text, "ß" to "ss")."""
    return query_key(text)[:MAX_QUERY_KEY]


def record_search(results, *, surface, latency_ms):
    """Log one answered search; its id, which the results page gives its result links."""
    search_id = uuid.uuid4()
    understood = getattr(results, "understood", None)  # the database fallback understands nothing
    if enabled():
        writer.put(
            SearchLog(
                search_id=search_id,
                query=logged_query(results.query),
                mode=results.mode,
                cities=list(results.cities),
                understood_cities=list(understood.cities) if understood else [],
                offset=results.offset,
                count=results.count,
                result_ids=[hit.company.pk for hit in results.hits[:LOGGED_RESULTS]],
                latency_ms=round(latency_ms, 3),
                surface=surface,
                created_at=timezone.now(),
            )
        )
    return search_id


def record_click(*, search_id, query, company_id, position, target):
    """Log a result opened from a results page (the arguments are already validated)."""
    if enabled():
        writer.put(
            SearchClick(
                search_id=search_id,
                query=logged_query(query),
                company_id=company_id,
                position=position,
                target=target,
                created_at=timezone.now(),
            )
        )


def purge(days=None):
    """Delete searches and clicks older than ``days`` (``SEARCH_LOG_DAYS``); how many of each."""
    days = settings.SEARCH_LOG_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=days)
    searches, _ = SearchLog.objects.filter(created_at__lt=cutoff).delete()
    clicks, _ = SearchClick.objects.filter(created_at__lt=cutoff).delete()
    return {"searches": searches, "clicks": clicks}
