"""The vector store: a Qdrant collection of company points, reached through qdrant-client.

``QDRANT_URL`` selects a server or cluster. Without it the store is embedded: Qdrant's local mode
on disk (``QDRANT_PATH``), which one process may open at a time, and which is not thread-safe, so it
is opened on first use and every call holds a lock.

Searches go through an alias (the ``COLLECTION`` setting) that points at a versioned collection,
so the index can be rebuilt into a new collection and switched over without downtime.
"""

import atexit
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timezone

import httpx
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ApiException

from .conf import search_setting

logger = logging.getLogger(__name__)

DENSE = "dense"


class StoreUnavailable(Exception):
    """The vector store cannot be reached or opened right now."""


class StoreIncompatible(Exception):
    """The collection was built with another model or text recipe than this code uses."""


@dataclass(frozen=True)
class IndexPoint:
    id: int
    dense: list
    payload: dict


@dataclass(frozen=True)
class ScoredId:
    id: int
    score: float


def _translate_errors(method):
    """Store failures become StoreUnavailable, so callers handle one exception, not five."""

    def wrapper(self, *args, **kwargs):
        try:
            with self._lock:
                return method(self, *args, **kwargs)
        except (StoreUnavailable, StoreIncompatible):
            raise
        except (ApiException, httpx.HTTPError, OSError, RuntimeError) as exc:
            raise StoreUnavailable(f"The search index is unavailable: {exc}") from exc

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


class CompanyStore:
    def __init__(self, client, alias, embedded):
        self.client = client
        self.alias = alias
        self.embedded = embedded
        self._lock = threading.RLock() if embedded else _NoLock()
        self._verified_metadata = None

    # Collection lifecycle -------------------------------------------------------------------

    @_translate_errors
    def ensure_collection(self, metadata):
        """Create the collection and its alias if missing; refuse one built differently."""
        if self._verified_metadata == metadata:
            return
        current = self._collection_metadata()
        if current is None:
            self._create_and_alias(metadata)
        else:
            mismatched = {
                key: (current.get(key), value)
                for key, value in metadata.items()
                if current.get(key) != value
            }
            if mismatched:
                details = ", ".join(
                    f"{key} is {have!r}, this site uses {want!r}"
                    for key, (have, want) in mismatched.items()
                )
                raise StoreIncompatible(
                    f"The search index was built differently ({details}). "
                    "Run: python manage.py search_index --rebuild"
                )
        self._verified_metadata = dict(metadata)

    def _collection_metadata(self):
        if not self.client.collection_exists(self.alias) and not self._alias_target():
            return None
        return self.client.get_collection(self.alias).config.metadata or {}

    def _alias_target(self):
        for alias in self.client.get_aliases().aliases:
            if alias.alias_name == self.alias:
                return alias.collection_name
        return None

    def _create_and_alias(self, metadata):
        name = f"{self.alias}_{datetime.now(timezone.utc):%Y%m%d%H%M%S%f}"
        self.client.create_collection(
            name,
            vectors_config={
                DENSE: models.VectorParams(
                    size=metadata["dimension"], distance=models.Distance.COSINE
                )
            },
            metadata=metadata,
        )
        if not self.embedded:  # local mode has no payload indexes (and warns)
            self.client.create_payload_index(name, "city", models.PayloadSchemaType.KEYWORD)
        self.client.update_collection_aliases(
            change_aliases_operations=[
                models.CreateAliasOperation(
                    create_alias=models.CreateAlias(collection_name=name, alias_name=self.alias)
                )
            ]
        )
        logger.info("Created collection %s (alias %s): %s", name, self.alias, metadata)

    @_translate_errors
    def drop(self):
        """Delete the collection behind the alias, and the alias."""
        target = self._alias_target()
        if target:
            self.client.delete_collection(target)
        elif self.client.collection_exists(self.alias):
            self.client.delete_collection(self.alias)
        self._verified_metadata = None

    # Points --------------------------------------------------------------------------------

    @_translate_errors
    def upsert(self, points):
        if points:
            self.client.upsert(
                self.alias,
                points=[
                    models.PointStruct(id=p.id, vector={DENSE: p.dense}, payload=p.payload)
                    for p in points
                ],
            )

    @_translate_errors
    def delete(self, ids):
        if ids:
            self.client.delete(self.alias, points_selector=models.PointIdsList(points=list(ids)))

    @_translate_errors
    def count(self, cities=None):
        return self.client.count(self.alias, count_filter=_city_filter(cities), exact=True).count

    @_translate_errors
    def search_dense(self, vector, *, cities=None, limit, score_threshold=None):
        """The ``limit`` nearest points by cosine, best first, filtered inside the search."""
        response = self.client.query_points(
            self.alias,
            query=list(vector),
            using=DENSE,
            query_filter=_city_filter(cities),
            limit=limit,
            score_threshold=score_threshold,
            with_payload=False,
        )
        return [ScoredId(int(point.id), point.score) for point in response.points]

    @_translate_errors
    def payloads(self, ids):
        """``{id: payload}`` of the points that exist among ``ids``."""
        records = self.client.retrieve(self.alias, ids=list(ids), with_payload=True)
        return {int(record.id): record.payload for record in records}


def _city_filter(cities):
    if not cities:
        return None
    return models.Filter(
        must=[models.FieldCondition(key="city", match=models.MatchAny(any=list(cities)))]
    )


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_opened = (None, None)  # (settings it was opened with, store)
_store_lock = threading.Lock()


def _store_settings():
    return tuple(
        search_setting(name)
        for name in ("QDRANT_URL", "QDRANT_API_KEY", "QDRANT_PATH", "QDRANT_TIMEOUT", "COLLECTION")
    )


def get_store():
    """The process's store, opened on first use (after any fork, so workers get their own)."""
    global _opened
    wanted = _store_settings()
    if _opened[0] != wanted:
        with _store_lock:
            if _opened[0] != wanted:
                _close_opened()
                _opened = (wanted, _open_store(*wanted))
    return _opened[1]


def _open_store(url, api_key, path, timeout, alias):
    if url:
        client = QdrantClient(
            url=url, api_key=api_key or None, timeout=timeout, check_compatibility=False
        )
        return CompanyStore(client, alias, embedded=False)
    try:
        if path == ":memory:":
            client = QdrantClient(location=":memory:")
        else:
            client = QdrantClient(path=str(path))
    except RuntimeError as exc:
        raise StoreUnavailable(
            f"The embedded search index at {path} is open in another process (is the site, a "
            "worker or a command running?). Stop it, or set QDRANT_URL to a Qdrant server that "
            "several processes can share."
        ) from exc
    return CompanyStore(client, alias, embedded=True)


def _close_opened():
    global _opened
    store = _opened[1]
    _opened = (None, None)
    if store is not None:
        store.client.close()


@atexit.register
def close_store():
    """Close the process's store, releasing the embedded store's lock (tests, commands)."""
    with _store_lock:
        _close_opened()
