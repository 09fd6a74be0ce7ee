"""The periodic check and repair, run inside the process that owns the embedded store.

With a broker, celery beat runs ``companies.repair_index`` every ``REPAIR_INTERVAL`` seconds.
Without one (the embedded default) there is no beat, and the embedded store can be opened by one
process only, so that process repairs by itself: a daemon thread, started when it first opens
the store, runs the same ``indexing.check_and_repair``. Writes racing a repair are safe: a repair
writes points by the same ordering rule as every save (docs/indexing.md).
"""

import logging
import threading

from django.db import connections

from .conf import search_setting

logger = logging.getLogger(__name__)

_state_lock = threading.Lock()
_enabled = False
_thread = None
_stop = threading.Event()


def enable():
    """This process indexes by itself (no broker): repair once it opens the embedded store."""
    global _enabled
    _enabled = True


def disable():
    """Stop repairing in this process (commands that check or rebuild themselves, tests)."""
    global _enabled
    _enabled = False
    stop()


def ensure_running():
    """Start the repair thread if this process should run one and none runs yet."""
    global _thread
    if not _enabled or search_setting("QDRANT_URL") or not search_setting("REPAIR_INTERVAL"):
        return
    with _state_lock:
        if _thread is not None and _thread.is_alive():
            return
        _stop.clear()
        _thread = threading.Thread(target=_run, name="search-index-repair", daemon=True)
        _thread.start()


def stop():
    """Stop the repair thread, waiting for a repair under way to finish."""
    global _thread
    with _state_lock:
        thread, _thread = _thread, None
        _stop.set()
    if thread is not None and thread is not threading.current_thread():
        thread.join()


def _run():
    from . import indexing

    while True:
        interval = search_setting("REPAIR_INTERVAL")
        if not interval or _stop.wait(interval) or not _enabled:
            return
        try:
            indexing.check_and_repair()
        except Exception as exc:
            logger.exception(
                "The periodic index repair failed",
                extra={"event": "index_repair_failed", "error": str(exc)},
            )
        finally:
            connections.close_all()  # this thread's connections; a new one next round
