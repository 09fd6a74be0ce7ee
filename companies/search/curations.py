"""Editors' curations applied to a search: pinned companies first, hidden companies out.

Read from the database on every search (one query: the pins and hidden companies of the
query's ``query_key``s, by an index), so a change applies at once in every process, with no
cache to invalidate. The matches keep one
order, so count, facets and pages still agree: pinned companies are matches (shown first, in the
editors' order, counted in their city), hidden companies are not matches at all.
"""

import functools
from dataclasses import dataclass

from django.db import connection

from companies.models import Curation, CurationPin, query_key


@dataclass(frozen=True)
class Rule:
    pinned: tuple = ()
    hidden: frozenset = frozenset()

    def __bool__(self):
        return bool(self.pinned or self.hidden)


NO_RULE = Rule()


def rule_for(*queries):
    """The curation of the first of ``queries`` that has one (after normalisation), or
    ``NO_RULE``: the search looks a query up as typed and as understood, in one query."""
    keys = list(dict.fromkeys(key for key in map(query_key, queries) if key))
    if not keys:
        return NO_RULE
    found = {}  # key -> [(position, id, company id)], hidden companies at position -1
    with connection.cursor() as cursor:
        cursor.execute(_rule_sql(len(keys)), keys * 2)
        for key, company_id, position, pk in cursor.fetchall():
            found.setdefault(key, []).append((position, pk, company_id))
    for key in keys:
        if key in found:
            entries = sorted(found[key])
            hidden = frozenset(company for position, _, company in entries if position < 0)
            pinned = tuple(company for position, _, company in entries if position >= 0)
            return Rule(tuple(pk for pk in pinned if pk not in hidden), hidden)
    return NO_RULE


@functools.cache
def _rule_sql(key_count):
    """The pins and hidden companies of ``key_count`` query keys, in one statement: SQL of our
    own, as the ORM's union took longer to compile than the lookup to run."""
    quote = connection.ops.quote_name
    curation = quote(Curation._meta.db_table)
    pin = quote(CurationPin._meta.db_table)
    hidden = quote(Curation.hidden.through._meta.db_table)
    keys = ", ".join(["%s"] * key_count)
    return (
        f"SELECT c.query_key, p.company_id, p.position, p.id FROM {pin} p "
        f"JOIN {curation} c ON c.id = p.curation_id WHERE c.query_key IN ({keys}) "
        f"UNION ALL SELECT c.query_key, h.company_id, -1, -1 FROM {hidden} h "
        f"JOIN {curation} c ON c.id = h.curation_id WHERE c.query_key IN ({keys})"
    )
