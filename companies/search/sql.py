"""Reads on every search's path, run as SQL compiled once from the querysets that define them.

Compiling a queryset (lookups, one prepared parameter per id, quoting) cost more than running
it: about 10 ms against 1 ms to read 200 result rows by id (``bench/latency.py``'s machine,
SQLite). The queryset stays the one definition of what is read; each process keeps its
compiled text, and only the list of ids varies.
"""

import threading

from django.db import connection

_compiled = {}
_lock = threading.Lock()
# Stands for the ids in the compiled statement: a value no id has.
_IDS = -1
_ONE_ID = "IN (%s)"


def _statement(name, queryset):
    """``(sql, params, index of the ids' parameter)`` of ``queryset()`` filtered to some ids."""
    if name not in _compiled:
        sql, params = queryset().filter(pk__in=[_IDS]).query.sql_with_params()
        if sql.count(_ONE_ID) != 1:
            raise ValueError(f"{name}: expected one id list in {sql}")
        with _lock:
            _compiled[name] = (sql, params, list(params).index(_IDS))
    return _compiled[name]


def rows(name, queryset):
    """The rows (tuples) of ``queryset()``."""
    if name not in _compiled:
        with _lock:
            _compiled[name] = queryset().query.sql_with_params()
    sql, params = _compiled[name]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def rows_by_id(name, queryset, ids, chunk_size=None):
    """The rows (tuples) of ``queryset()`` whose primary key is in ``ids``: a few statements
    when the database limits parameters per statement (SQLite)."""
    sql, params, at = _statement(name, queryset)
    limit = connection.features.max_query_params
    size = chunk_size or ((limit - len(params)) if limit else len(ids)) or 1
    rows = []
    with connection.cursor() as cursor:
        for start in range(0, len(ids), size):
            chunk = ids[start : start + size]
            many = f"IN ({', '.join(['%s'] * len(chunk))})"
            cursor.execute(sql.replace(_ONE_ID, many), [*params[:at], *chunk, *params[at + 1 :]])
            rows.extend(cursor.fetchall())
    return rows
