"""Name suggestions for autocomplete, matched by normalised keys on every database.

A prefix matches a searchable company whose ``name_text`` (its name's ``text_key``: NFKC,
casefolded) starts with the prefix's key, or has a word that does; comparing stored keys, not
``LIKE``/``ILIKE`` on the name, makes "émile" find "Émile" on SQLite as on PostgreSQL.
"""

from django.db.models import Case, IntegerField, Q, Value, When

from companies.models import Company, text_key

from .params import clean_prefix


def suggest_companies(prefix, *, limit=8):
    """Companies whose name, or a word of it, starts with ``prefix``, names that start first."""
    key = text_key(clean_prefix(prefix))
    starts_name = Q(name_text__startswith=key)
    matches = Company.objects.searchable().filter(starts_name | Q(name_text__contains=f" {key}"))
    return list(
        matches.annotate(
            rank=Case(
                When(starts_name, then=Value(0)), default=Value(1), output_field=IntegerField()
            )
        ).order_by("rank", "name", "pk")[:limit]
    )
