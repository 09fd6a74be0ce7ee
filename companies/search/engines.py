"""Which store engine the settings select, and the process's one open store.

Kept apart from ``store.py`` (the interface every engine builds on) so that the engines import
the interface and nothing imports back: store <- store_edge / store_qdrant <- engines.
"""

import atexit
import threading

from django.core.exceptions import ImproperlyConfigured

from .conf import search_setting

# Without QDRANT_URL: the embedded engines, by their EMBEDDED_ENGINE name.
EMBEDDED_ENGINES = ("edge", "qdrant-local")
STORE_SETTINGS = (
    "QDRANT_URL",
    "QDRANT_API_KEY",
    "QDRANT_PATH",
    "QDRANT_TIMEOUT",
    "COLLECTION",
    "EMBEDDED_ENGINE",
    # Read by the store when it opens (companies/search/storage.py).
    "QUANTIZATION",
    "VECTORS_ON_DISK",
    "HNSW_EF",
    "QUANTIZATION_OVERSAMPLING",
)

_opened = (None, None)  # (settings it was opened with, store)
_store_lock = threading.Lock()


def embedded_engine():
    """The EMBEDDED_ENGINE setting, refused (not guessed) when it names no engine."""
    engine = search_setting("EMBEDDED_ENGINE")
    if engine not in EMBEDDED_ENGINES:
        raise ImproperlyConfigured(
            f"EMBEDDED_ENGINE is {engine!r}; use one of: {', '.join(EMBEDDED_ENGINES)}."
        )
    return engine


def _store_settings():
    embedded_engine()
    return tuple(search_setting(name) for name in STORE_SETTINGS)


def open_store(url, api_key, path, timeout, name, engine, *_storage):
    """A new store for these settings (``STORE_SETTINGS`` order; the vector storage ones the
    engines read themselves)."""
    if url:
        from .store_qdrant import QdrantServerStore

        return QdrantServerStore.for_server(url, api_key=api_key, timeout=timeout, alias=name)
    if engine == "qdrant-local":
        from .store_qdrant import QdrantServerStore

        return QdrantServerStore.for_local_path(path, alias=name)
    from .store_edge import EdgeStore

    return EdgeStore(path, name=name)


def get_store():
    """The process's store, opened on first use (after any fork, so workers get their own)."""
    global _opened
    wanted = _store_settings()
    if _opened[0] != wanted:
        with _store_lock:
            if _opened[0] != wanted:
                _close_opened()
                _opened = (wanted, open_store(*wanted))
    return _opened[1]


def peek_metadata():
    """What the live index was built with, read without taking the store (start-up checks)."""
    url, api_key, path, timeout, name, engine, *_storage = _store_settings()
    if url:
        store = open_store(url, api_key, path, timeout, name, engine)
        try:
            return store.metadata()
        finally:
            store.close()
    if engine == "edge":
        from .store_edge import read_metadata

        return read_metadata(path, name)
    return None  # qdrant-local can only be read by its single owner


def _close_opened():
    global _opened
    store = _opened[1]
    _opened = (None, None)
    if store is not None:
        store.close()


@atexit.register
def close_store():
    """Close the process's store, releasing the embedded store's lock (tests, commands)."""
    with _store_lock:
        _close_opened()
