"""The map as it is served: read from the database, and encoded ahead so that ``/api/map/``
answers at once however large the map is.

Encoding the whole map (reading every position, JSON, gzip) takes longer than a request may at
tens of thousands of companies. So each encoding is stored (``MapSnapshot``, one row) with the
map's ``fingerprint`` at the time, and every process keeps the last one it served. A request
compares the fingerprint of now (one aggregate query) with its copy's:

- the same: the copy is served;
- changed, on a small map (at most ``INLINE_POINTS`` points, which encode in milliseconds):
  it is encoded now, so a small site always serves the map of now;
- changed, on a large map: the previous encoding is served and a new one is made in a thread
  of its own (stale-while-revalidate). One request sees the map of a moment before, as the
  index itself follows the database a moment behind.

A process with no copy takes the stored one (encoded when the map was last laid out, or by any
other process), so its first request is quick too. Only a site that never encoded its map
encodes in the request.
"""

import gzip
import hashlib
import json
import logging
import threading
import time
from collections import Counter

from django.db import DatabaseError, connection
from django.db.models import Count, Max, Sum

from companies.models import MapCluster, MapPoint, MapSnapshot

logger = logging.getLogger(__name__)

# A changed map of at most this many points is encoded in the request (a few tens of
# milliseconds at most); a larger one in the background. A count, not a timing, so that what a
# request serves does not depend on how busy the machine is.
INLINE_POINTS = 5000


def fingerprint():
    """What changes whenever the map shown does: how many searchable companies are on it and the
    sum of when their positions were written (a move, an addition, a removal or a company hidden
    behind the signals' back each change it), and the clusters. One aggregate query per table."""
    points = MapPoint.objects.filter(company__searchable=True).aggregate(
        n=Count("pk"), written=Sum("written")
    )
    clusters = MapCluster.objects.aggregate(n=Count("pk"), last=Max("id"))
    return f"{points['n']}:{points['written'] or 0}:{clusters['n']}:{clusters['last']}"


def _points(fingerprint):
    """How many points the map of ``fingerprint`` has (its first part)."""
    return int(fingerprint.split(":", 1)[0])


def map_data(city_keys=()):
    """``{"points": [...], "clusters": [...]}`` of every searchable company on the map (in
    ``city_keys`` if given), rounded to a tenth of a map unit (the map is ``layout.SCALE``
    wide). A cluster's size counts the points listed."""
    rows = MapPoint.objects.filter(company__searchable=True)
    if city_keys:
        rows = rows.filter(company__city_key__in=city_keys)
    rows = rows.values_list("company_id", "x", "y", "cluster")
    points = [
        {"id": pk, "x": x, "y": y, "cluster": cluster} for pk, x, y, cluster in rows.iterator(5000)
    ]
    return {"points": points, "clusters": _clusters(Counter(p["cluster"] for p in points))}


def clusters():
    """The clusters as ``map_data`` lists them, counted in the database (no point is read)."""
    sizes = (
        MapPoint.objects.filter(company__searchable=True)
        .values("cluster")
        .annotate(n=Count("pk"))
        .values_list("cluster", "n")
    )
    return _clusters(Counter(dict(sizes)))


def _clusters(sizes):
    return [
        {"id": c.id, "label": c.label, "size": sizes[c.id], "x": round(c.x, 1), "y": round(c.y, 1)}
        for c in MapCluster.objects.all()
        if sizes[c.id]
    ]


class Encoded:
    """A map as gzip-compressed JSON, with its ETag and the fingerprint it was made at."""

    def __init__(self, gzipped, etag, fingerprint="", seconds=0.0):
        self.gzipped, self.etag, self.fingerprint = gzipped, etag, fingerprint
        self.seconds = seconds  # how long encoding it took

    @classmethod
    def of(cls, data, fingerprint=""):
        plain = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        etag = f'"{hashlib.sha256(plain).hexdigest()[:32]}"'
        return cls(gzip.compress(plain, compresslevel=6, mtime=0), etag, fingerprint)

    @property
    def plain(self):
        """The JSON itself, for the rare client that does not accept gzip."""
        return gzip.decompress(self.gzipped)


class _Copy:
    """This process's encoding of the whole map."""

    encoded = None
    refreshing = None  # the thread encoding in the background, if any


_copy = _Copy()
_copy_lock = threading.Lock()  # reading and replacing _copy's fields
_encoding_lock = threading.Lock()  # one encoding at a time in a process


def whole_map():
    """The whole map encoded: the map of now, or on a large map just changed, the one of a moment
    before while the new one is encoded (see the module's docstring)."""
    current = fingerprint()
    encoded = _copy.encoded
    if encoded is None or encoded.fingerprint != current:
        encoded = _stored(current, encoded) or encoded
    if encoded is not None and encoded.fingerprint == current:
        return encoded
    if encoded is None or _points(current) <= INLINE_POINTS:
        return refresh()
    _refresh_in_background()
    return encoded


def refresh():
    """Encode the whole map as it is now, store the encoding and keep it in this process."""
    with _encoding_lock:
        current = fingerprint()
        if _copy.encoded is not None and _copy.encoded.fingerprint == current:
            return _copy.encoded
        started = time.monotonic()
        encoded = Encoded.of(map_data(), current)
        encoded.seconds = time.monotonic() - started  # reading the positions included
        _store(encoded)  # first: once a process serves an encoding, it is the stored one too
        _keep(encoded)
        return encoded


def _keep(encoded):
    with _copy_lock:
        _copy.encoded = encoded


def _stored(current, have):
    """The stored encoding, taken as this process's copy, if it is of the map of now, or if this
    process has none; else ``None``. Its bytes are only read when taken."""
    try:
        stored = MapSnapshot.objects.filter(pk=1).values_list("fingerprint", flat=True).first()
        if stored is None or (have is not None and stored != current):
            return None
        row = MapSnapshot.objects.filter(pk=1).first()
    except DatabaseError:  # a cache: the map is encoded anew
        logger.warning("Could not read the stored map encoding", exc_info=True)
        return None
    if row is None:
        return None
    encoded = Encoded(bytes(row.gzipped), row.etag, row.fingerprint, row.seconds)
    _keep(encoded)
    return encoded


def _store(encoded):
    """Replace the stored encoding. A failure (say, a database busy with other writes) is
    logged: the next process to find none encodes the map itself."""
    fields = {
        "fingerprint": encoded.fingerprint,
        "gzipped": encoded.gzipped,
        "etag": encoded.etag,
        "seconds": encoded.seconds,
    }
    try:
        MapSnapshot.replace(**fields)
    except DatabaseError:
        logger.warning("Could not store the map encoding", exc_info=True)


def _refresh_in_background():
    """Start encoding the map in a thread, unless one is at it already."""
    with _copy_lock:
        if _copy.refreshing is not None and _copy.refreshing.is_alive():
            return
        _copy.refreshing = threading.Thread(
            target=_refresh_in_thread, name="map-encoding", daemon=True
        )
        _copy.refreshing.start()


def _refresh_in_thread():
    try:
        refresh()
    except Exception:
        logger.exception("Could not encode the map", extra={"event": "map_encoding_failed"})
    finally:
        connection.close()  # the thread's own connection


def wait_for_refresh(timeout=None):
    """Wait for a background encoding, if one runs (tests and benchmarks)."""
    thread = _copy.refreshing
    if thread is not None:
        thread.join(timeout)
