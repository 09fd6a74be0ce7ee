"""Name suggestions for autocomplete, matched by normalised keys on every database.

A prefix matches a searchable company whose ``name_text`` (its name's ``text_key``: NFKC,
casefolded) starts with the prefix's key, or has a word that does; comparing stored keys, not
``LIKE``/``ILIKE`` on the name, makes "émile" find "Émile" on SQLite as on PostgreSQL. When
no name starts so, names whose start is one typo away are suggested ("sptoh" finds SpotHero),
from ``FUZZY_FROM`` letters, as with misspelt words in searches (``spelling``).
"""

from django.db.models import Case, IntegerField, Q, Value, When
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from companies.models import Company, text_key

from . import vocabulary
from .params import clean_prefix

FUZZY_FROM = 4


def suggest_companies(prefix, *, limit=8):
    """Companies whose name, or a word of it, starts with ``prefix``, names that start first;
    if there are none, names starting one typo away from it."""
    key = text_key(clean_prefix(prefix))
    starts_name = Q(name_text__startswith=key)
    matches = Company.objects.searchable().filter(starts_name | Q(name_text__contains=f" {key}"))
    found = list(
        matches.annotate(
            rank=Case(
                When(starts_name, then=Value(0)), default=Value(1), output_field=IntegerField()
            )
        ).order_by("rank", "name", "pk")[:limit]
    )
    if not found and len(key) >= FUZZY_FROM:
        found = near_names(key, limit)
    return found


def near_names(key, limit):
    """Searchable companies whose name starts one typo away from ``key``, nearest first."""
    names = vocabulary.current().names
    near = process.extract(
        key,
        [name[: len(key)] for name, _ in names],
        scorer=DamerauLevenshtein.distance,
        score_cutoff=1,
        limit=None,
    )
    ranked = sorted((distance, names[i][0], names[i][1]) for _, distance, i in near)[:limit]
    rows = Company.objects.searchable().in_bulk([pk for _, _, pk in ranked])
    return [rows[pk] for _, _, pk in ranked if pk in rows]
