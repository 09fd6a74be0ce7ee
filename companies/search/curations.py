"""Editors' curations applied to a search: pinned companies first, hidden companies out.

Read from the database on every search (one indexed lookup by the query's ``query_key``), so a
change applies at once in every process, with no cache to invalidate. The matches keep one
order, so count, facets and pages still agree: pinned companies are matches (shown first, in the
editors' order, counted in their city), hidden companies are not matches at all.
"""

from dataclasses import dataclass

from companies.models import Curation, CurationPin, query_key


@dataclass(frozen=True)
class Rule:
    pinned: tuple = ()
    hidden: frozenset = frozenset()

    def __bool__(self):
        return bool(self.pinned or self.hidden)


NO_RULE = Rule()


def rule_for(query):
    """The curation of ``query`` (after normalisation), or ``NO_RULE``."""
    key = query_key(query)
    if not key:
        return NO_RULE
    pins = CurationPin.objects.filter(curation__query_key=key).order_by("position", "id")
    pinned = tuple(pins.values_list("company_id", flat=True))
    hidden = frozenset(
        Curation.hidden.through.objects.filter(curation__query_key=key).values_list(
            "company_id", flat=True
        )
    )
    return Rule(tuple(pk for pk in pinned if pk not in hidden), hidden)
