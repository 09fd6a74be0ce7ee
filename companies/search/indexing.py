"""What a company becomes in the index, and keeping the index in step with the database.

The database is the source of truth. A point's id is the company's primary key, and everything
it is made of is hashed (with the model and the recipe version), so indexing is idempotent: a
company whose hash is unchanged is not embedded again.
"""

import hashlib
import logging
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from companies.models import Company, IndexStatus, name_key, text_key

from . import autorepair, embedding, keywords, landscape
from .conf import search_setting
from .engines import get_store
from .store import IndexPoint, StoreIncompatible
from .text import split_sentences

logger = logging.getLogger(__name__)

# Bump when what a point is made of changes: every stored point then counts as stale.
RECIPE_VERSION = 5


def document_text(company):
    """The text a company is found by: name, markets and description."""
    parts = [company.name.strip(), company.tags.strip(), company.description.strip()]
    return ". ".join(part for part in parts if part)


def document_sentences(company):
    """The passages embedded one by one: each sentence of the description, and the markets.

    Each is prefixed with the name, so it stands on its own. A query about one thing a company
    does then meets that sentence, undiluted by the rest (measured: nDCG@10 0.80 scoring by the
    best sentence vs 0.75 by the whole text, bench/quality.py).
    """
    name = company.name.strip()
    sentences = split_sentences(company.description)
    if company.tags.strip():
        sentences.append(company.tags.strip())
    return [f"{name}: {sentence}" for sentence in sentences] or [name]


# The fields a point is made of: a change to any of them makes the point stale.
POINT_FIELDS = ("name", "tags", "description", "city")


def point_hash(company):
    """A fingerprint of everything a company's point is made of, and of how it is made."""
    source = "\n".join(
        [
            embedding.model_name(),
            keywords.recipe(),
            str(RECIPE_VERSION),
            document_text(company),
            company.city,
        ]
    )
    return hashlib.sha256(source.encode()).hexdigest()


def recipe_metadata():
    """How points are made, as far as known without loading the model (start-up checks)."""
    return {
        "model": embedding.model_name(),
        "keywords": keywords.recipe(),
        "recipe": RECIPE_VERSION,
    }


def index_metadata():
    """What the collection records about how its points were made."""
    return {**recipe_metadata(), "dimension": embedding.dimension()}


def open_index():
    """The store, its live index created or verified for this model and recipe.

    In a process that indexes by itself with the embedded store, this also starts the periodic
    check and repair (``autorepair``), as celery beat does where there is a broker.
    """
    store = get_store()
    store.ensure_index(index_metadata())
    autorepair.ensure_running()
    return store


@dataclass
class IndexReport:
    indexed: int = 0
    unchanged: int = 0
    removed: int = 0

    def add(self, other):
        self.indexed += other.indexed
        self.unchanged += other.unchanged
        self.removed += other.removed


def index_companies(pks, *, force=False, batch_size=None, progress=None):
    """Bring the points of companies ``pks`` in line with the database, one batch at a time.

    Companies that no longer exist, or are not searchable, are removed from the index. Store
    failures propagate (after the batch is marked failed), so a task can retry; the records keep
    the error meanwhile. ``progress``, if given, is called with the size of each batch done.
    """
    pks = list(dict.fromkeys(pks))
    batch_size = batch_size or search_setting("BATCH_SIZE")
    report = IndexReport()
    for start in range(0, len(pks), batch_size):
        batch = pks[start : start + batch_size]
        report.add(_index_batch(batch, force=force))
        if progress:
            progress(len(batch))
    return report


# What indexing reads of a row: its text, and which version of it that text is.
ROW_FIELDS = ("pk", "version", "searchable", "index_status", "indexed_hash", "index_error")
# What marking a row indexed writes, after the key it is found by (``_record_indexed``).
INDEXED = ("id", "index_status", "index_error", "indexed_at", "indexed_hash")


def _index_batch(pks, *, force, only_next=False, attempts=3):
    """Index ``pks`` by the ordering rule (docs/indexing.md): embed outside any transaction,
    then write a point only while its row is locked at the version that was embedded.

    ``only_next``: fill the index being rebuilt (no index state is recorded).
    """
    report = IndexReport()
    rows = {
        row.pk: row for row in Company.objects.filter(pk__in=pks).only(*ROW_FIELDS, *POINT_FIELDS)
    }
    shown = [row for row in rows.values() if row.searchable]
    hashes = {row.pk: point_hash(row) for row in shown}
    embed = [row for row in shown if force or only_next or row.indexed_hash != hashes[row.pk]]
    try:
        # A rebuild fills the next index, whatever the live one was built with.
        store = get_store() if only_next else open_index()
        points = {point.id: point for point in make_points(embed, hashes)} if embed else {}
        with transaction.atomic():
            locked = _lock_rows(rows.values())
            gone = _gone(pks, rows, locked)
            hidden = [row.pk for row in locked if not row.searchable]
            current = [row for row in locked if row.searchable]
            # A row whose point was dropped since it was read (same version, other bookkeeping)
            # is embedded again rather than trusted.
            redo = [
                row.pk for row in current if row.pk not in points and not _unchanged(row, hashes)
            ]
            fresh = [points[row.pk] for row in current if row.pk in points]
            if gone or hidden:
                store.delete(gone + hidden, only_next=only_next)
            if fresh:
                store.upsert(fresh, only_next=only_next)
            if not only_next:
                _record_indexed([point.id for point in fresh], hashes)
                _record_indexed(
                    [
                        row.pk
                        for row in current
                        if row.pk not in points
                        and row.pk not in redo
                        and (row.index_status != IndexStatus.INDEXED or row.index_error)
                    ]
                )
                _record_removed(hidden)
                # The map follows, under the same locks (the points are written by now).
                landscape.place_points(fresh)
                landscape.unplace(hidden)
    except Exception as exc:
        if not only_next:
            mark_failed(
                {row.pk: row.version for row in rows.values()}, str(exc) or type(exc).__name__
            )
        raise
    report.indexed = len(fresh)
    report.unchanged = len(current) - len(fresh) - len(redo)
    report.removed = len(gone) + len(hidden)
    if redo and attempts > 1:
        report.add(_index_batch(redo, force=True, only_next=only_next, attempts=attempts - 1))
    return report


def _lock_rows(rows):
    """Of ``rows`` (as read), those still at the version read, locked until the transaction ends:
    searchable ones to write their points, others to remove them.

    On PostgreSQL this takes the rows' locks (in id order, so two indexers never deadlock); on
    SQLite the transaction already holds the database's write lock (``BEGIN IMMEDIATE``). A
    writer that saves a newer version meanwhile either committed first (the row is not returned:
    its own indexing follows) or waits until this transaction ends.
    """
    read = {row.pk: row.version for row in rows}
    if not read:
        return []
    # One id list, compared by version here: a hundred ``Q(pk=…, version=…)`` alternatives
    # cost more to compile than to run (bench/indexing.py). A row at a newer version is locked
    # too, harmlessly: its own indexing waits for this transaction, as it would anyway.
    locked = Company.objects.select_for_update().filter(pk__in=read).only(*ROW_FIELDS)
    return [row for row in locked.order_by("pk") if row.version == read[row.pk]]


def _gone(pks, rows, locked):
    """Ids of ``pks`` with no row any more (deleted before or since they were read): their
    points go. Nothing can write them again, since no one can lock a row that does not exist."""
    unlocked = set(rows) - {row.pk for row in locked}
    still_there = set(Company.objects.filter(pk__in=unlocked).values_list("pk", flat=True))
    return [pk for pk in pks if pk not in rows or (pk in unlocked and pk not in still_there)]


def _unchanged(row, hashes):
    """Whether the locked ``row`` is recorded as indexed with the text it has now."""
    return row.indexed_hash == hashes.get(row.pk)


def make_points(companies, hashes):
    """The index points of ``companies``: all their sentences embedded in one batch.

    ``hashes`` maps each company's id to its ``point_hash``, stored with the point.
    """
    sentences = [document_sentences(company) for company in companies]
    vectors = iter(embedding.embed_documents([s for company in sentences for s in company]))
    texts = [document_text(company) for company in companies]
    points = []
    for company, company_sentences, sparse in zip(
        companies, sentences, keywords.document_vectors(texts)
    ):
        sentence_vectors = [next(vectors) for _ in company_sentences]
        points.append(
            IndexPoint(
                id=company.pk,
                dense=embedding.normalized_mean(sentence_vectors),
                sentences=sentence_vectors,
                sparse=sparse,
                payload={
                    "city": text_key(company.city),
                    "city_name": company.city,
                    "name_key": name_key(company.name),
                    "hash": hashes[company.pk],
                    "terms": sparse[0],
                },
            )
        )
    return points


def _record_indexed(pks, hashes=None):
    """Mark rows ``pks`` indexed (with ``hashes``: as indexed now with those hashes). Called
    with the rows locked at the version whose points were written."""
    if hashes is None:
        for start in range(0, len(pks), 500):
            Company.objects.filter(pk__in=pks[start : start + 500]).update(
                index_status=IndexStatus.INDEXED, index_error=""
            )
        return
    if not pks:
        return
    # One statement run per row: a ``Case``/``When`` over hundreds of ids cost more to compile
    # than the embedding of a few of them (bench/indexing.py).
    meta = Company._meta
    column = {name: connection.ops.quote_name(meta.get_field(name).column) for name in INDEXED}
    sql = (
        f"UPDATE {connection.ops.quote_name(meta.db_table)} SET "
        + ", ".join(f"{column[name]} = %s" for name in INDEXED[1:])
        + f" WHERE {column['id']} = %s"
    )
    now = meta.get_field("indexed_at").get_db_prep_value(timezone.now(), connection)
    with connection.cursor() as cursor:
        cursor.executemany(
            sql, [(IndexStatus.INDEXED.value, "", now, hashes[pk], pk) for pk in pks]
        )


def _record_removed(pks):
    """Rows out of the index as they should be (not searchable): nothing pending, no text kept,
    so that when they become searchable again they are embedded afresh."""
    if pks:
        Company.objects.filter(pk__in=pks).update(
            index_status=IndexStatus.INDEXED, indexed_hash="", index_error=""
        )


def stale_ids(companies):
    """Ids among ``companies`` marked indexed whose text, model or recipe changed since.

    Writes that bypass signals (``QuerySet.update``, raw SQL) leave such rows behind.
    """
    return [
        company.pk
        for company in companies.filter(index_status=IndexStatus.INDEXED).only(
            "pk", "indexed_hash", *POINT_FIELDS
        )
        if company.indexed_hash != point_hash(company)
    ]


def mark_pending(pks):
    Company.objects.filter(pk__in=pks).update(index_status=IndexStatus.PENDING)


def mark_for_reindex(pks):
    """Pending, and forgetting the indexed text, so the next indexing embeds them again."""
    Company.objects.filter(pk__in=pks).update(index_status=IndexStatus.PENDING, indexed_hash="")


def mark_removed(pks, note):
    """Pending with ``note``: the rows stay, their points go, until they are indexed again.

    The indexed text is forgotten too, or re-indexing would find it unchanged and skip it.
    """
    Company.objects.filter(pk__in=pks).update(
        index_status=IndexStatus.PENDING, indexed_hash="", index_error=note[:2000]
    )


def mark_failed(versions, error):
    """Record ``error`` on the rows of ``versions`` (``{id: version}``) still at those versions:
    a row saved since has its own indexing coming."""
    pks = list(versions)
    logger.warning(
        "Indexing failed for companies %s: %s",
        pks,
        error,
        extra={"event": "index_failed", "company_ids": pks, "error": error},
    )
    if versions:
        same_version = reduce(or_, (Q(pk=pk, version=v) for pk, v in versions.items()))
        Company.objects.filter(same_version).update(
            index_status=IndexStatus.FAILED, index_error=error[:2000]
        )


def remove_companies(pks):
    """Delete the points of companies ``pks`` (which may no longer exist in the database)."""
    open_index().delete(list(pks))


# Check, repair, rebuild -------------------------------------------------------------------------


@dataclass
class Drift:
    """How the index differs from the database.

    ``missing``: companies without a point; ``orphaned``: points without a company; ``stale``:
    points whose text hash differs from the company's current one (its text, the model or the
    recipe changed); ``wrong_state``: rows whose index state says otherwise than the index does.
    ``incompatible`` says why the live index cannot be used at all (then only a rebuild helps).
    """

    missing: list = field(default_factory=list)
    orphaned: list = field(default_factory=list)
    stale: list = field(default_factory=list)
    wrong_state: list = field(default_factory=list)
    incompatible: str = ""
    companies: int = 0
    points: int = 0

    @property
    def total(self):
        return len(self.missing) + len(self.orphaned) + len(self.stale) + len(self.wrong_state)

    @property
    def clean(self):
        return not self.total and not self.incompatible

    def summary(self):
        if self.incompatible:
            return self.incompatible
        return (
            f"{self.companies} companies, {self.points} points: {len(self.missing)} missing, "
            f"{len(self.orphaned)} orphaned, {len(self.stale)} stale, "
            f"{len(self.wrong_state)} with a wrong index state"
        )


def current_hashes(progress=None):
    """``{id: (document hash, index state, indexed hash)}`` of every company, read in chunks.

    The document hash of a company that is not searchable is None: it should have no point.
    """
    hashes = {}
    rows = Company.objects.only(
        "pk", "searchable", "index_status", "indexed_hash", *POINT_FIELDS
    ).order_by("pk")
    for n, company in enumerate(rows.iterator(chunk_size=2000), start=1):
        text_hash = point_hash(company) if company.searchable else None
        hashes[company.pk] = (text_hash, company.index_status, company.indexed_hash)
        if progress and n % 2000 == 0:
            progress(2000)
    return hashes


def check_index(*, next_index=False):
    """Compare the index (the live one, or the one being rebuilt) with the database.

    Only searchable companies belong in it: ``missing`` are searchable rows without a point,
    ``orphaned`` points without a searchable row.
    """
    store = get_store()
    if not next_index:
        try:
            store.ensure_index(index_metadata())
        except StoreIncompatible as exc:
            return Drift(incompatible=str(exc), companies=Company.objects.searchable().count())
    points = store.point_hashes(next_index=next_index)
    companies = current_hashes()
    shown = {pk for pk, (text_hash, _, _) in companies.items() if text_hash is not None}
    drift = Drift(companies=len(shown), points=len(points))
    for pk, (text_hash, status, indexed_hash) in companies.items():
        if text_hash is None:
            if (
                pk not in points
                and not next_index
                and (status != IndexStatus.INDEXED or indexed_hash)
            ):
                drift.wrong_state.append(pk)
        elif pk not in points:
            drift.missing.append(pk)
        elif points[pk] != text_hash:
            drift.stale.append(pk)
        elif not next_index and (status != IndexStatus.INDEXED or indexed_hash != text_hash):
            drift.wrong_state.append(pk)
    drift.orphaned = sorted(set(points) - shown)
    return drift


def repair_index(drift, *, batch_size=None, progress=None):
    """Fix exactly what ``drift`` lists, in batches, by the same ordering rule as every write:
    orphaned points go (unless their company became searchable meanwhile), missing and stale
    companies are embedded, and rows that were right all along get their index state set."""
    report = index_companies(drift.orphaned, batch_size=batch_size, progress=progress)
    report.add(
        index_companies(
            drift.missing + drift.stale, force=True, batch_size=batch_size, progress=progress
        )
    )
    for start in range(0, len(drift.wrong_state), 1000):
        chunk = drift.wrong_state[start : start + 1000]
        _record_state(Company.objects.filter(pk__in=chunk).only(*ROW_FIELDS, *POINT_FIELDS))
        if progress:
            progress(len(chunk))
    return report


def _record_state(rows):
    """Set the index state of ``rows`` whose points are as they should be, each only if the row
    is still at the version read (a row saved since has its own indexing coming)."""
    for row in rows:
        fields = {"index_status": IndexStatus.INDEXED, "index_error": ""}
        fields["indexed_hash"] = point_hash(row) if row.searchable else ""
        Company.objects.filter(pk=row.pk, version=row.version).update(**fields)


def check_and_repair():
    """The periodic safety net (celery beat, or the embedded store's own repair thread):
    whatever drifted (missed tasks, writes that bypass signals) is repaired."""
    drift = check_index()
    if drift.incompatible:
        raise StoreIncompatible(drift.incompatible)
    if drift.clean:
        return {"drift": 0, "placed": landscape.repair_landscape()}
    logger.warning(
        "Search index drift: %s; repairing",
        drift.summary(),
        extra={
            "event": "index_drift",
            "missing": len(drift.missing),
            "orphaned": len(drift.orphaned),
            "stale": len(drift.stale),
            "wrong_state": len(drift.wrong_state),
        },
    )
    report = repair_index(drift)
    return {
        "drift": drift.total,
        "indexed": report.indexed,
        "removed": report.removed,
        "placed": landscape.repair_landscape(),
    }


class RebuildBehind(Exception):
    """Writes keep the index being rebuilt from catching up; it is not switched to."""


# How many times a rebuild compares the new index with the database and fixes the difference
# before giving up rather than switching with drift left.
CATCH_UP_ROUNDS = 10


def rebuild_index(*, batch_size=None, keep_old=False, progress=None):
    """Build a new index beside the live one and switch to it when complete.

    Searches use the live index throughout; every write made meanwhile goes to both (the store
    does that while a rebuild is under way). Interrupted, it resumes: points already in the new
    index with the current hash are not embedded again. Before the switch, the new index is
    compared with the database and fixed until nothing differs; if writes outpace that for
    ``CATCH_UP_ROUNDS`` rounds, ``RebuildBehind`` is raised and the live index stays.
    """
    store = get_store()
    store.begin_rebuild(index_metadata())
    batch_size = batch_size or search_setting("BATCH_SIZE")
    companies = current_hashes()
    done = store.point_hashes(next_index=True)
    todo = [
        pk
        for pk, (text_hash, _, _) in companies.items()
        if text_hash is not None and done.get(pk) != text_hash
    ]
    if progress:
        progress(len(companies) - len(todo))
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        _fill_next(batch)
        if progress:
            progress(len(batch))
    for _ in range(CATCH_UP_ROUNDS):  # catch up with writes made during the fill
        drift = check_index(next_index=True)
        if drift.clean:
            break
        _fill_next(drift.orphaned + drift.missing + drift.stale, batch_size=batch_size)
    else:
        raise RebuildBehind(
            f"After {CATCH_UP_ROUNDS} catch-up rounds the new index still differs from the "
            f"database ({drift.summary()}): writes are outpacing the rebuild. The live index "
            "is unchanged; run search_index --rebuild again (it resumes) when writes are fewer."
        )
    store.optimize(next_index=True)
    old = store.finish_rebuild(keep_old=keep_old)
    _record_points_as_indexed()
    return old


def _fill_next(pks, batch_size=None):
    """Write the points of ``pks`` to the index being rebuilt, by the ordering rule."""
    batch_size = batch_size or search_setting("BATCH_SIZE")
    for start in range(0, len(pks), batch_size):
        _index_batch(pks[start : start + batch_size], force=True, only_next=True)


def _record_points_as_indexed():
    """After a rebuild, every company whose point has its current hash is indexed."""
    drift = check_index()
    repair_index(Drift(wrong_state=drift.wrong_state))


def optimize_index():
    """After bulk writes: let the store build its search structures (HNSW when embedded)."""
    get_store().optimize()


def clear_index():
    """Delete every generation of the index; every company becomes pending."""
    get_store().drop()
    Company.objects.update(index_status=IndexStatus.PENDING, indexed_hash="", indexed_at=None)
