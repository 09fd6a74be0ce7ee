"""What a search answers (hits, city facets, the page) and how ranked ids become it.

One rule for every mode: the ranking is ordered totally (score, then id), the ids are checked
against the searchable rows in the database (a point left behind by a deleted or hidden company
never counts), the facets count those rows by their ``city_key``, the city filter keeps the rows
in the selected cities, and the page is cut from that one list. So a facet's count is exactly
what selecting it shows, and pages neither repeat nor skip a company whatever their size.
"""

from collections import Counter, namedtuple
from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Count

from companies.models import Company

from . import sql
from .highlight import snippet
from .params import MAX_MATCHES
from .store import RankedPoint

# What result cards and the API show of a company (and what the facets count it by).
HIT_FIELDS = ("name", "slug", "description", "city", "city_key", "link", "image_url")
# In the model's field order, as ``Model.from_db`` takes a subset of fields.
ROW_FIELDS = tuple(
    f.attname for f in Company._meta.concrete_fields if f.attname in ("id", *HIT_FIELDS)
)


class Row(namedtuple("Row", ROW_FIELDS)):
    """A searchable company's ``ROW_FIELDS`` as read: every match is checked and counted by
    one, and only the page's become ``Company`` instances (a thousand keyword matches cost
    a model instance each before)."""

    __slots__ = ()

    def as_company(self):
        return Company.from_db(DEFAULT_DB_ALIAS, ROW_FIELDS, self)


@dataclass(frozen=True)
class SearchHit:
    company: Company
    score: float
    highlight: str = ""
    pinned: bool = False  # put first by an editors' curation


@dataclass(frozen=True)
class CityFacet:
    value: str
    count: int
    selected: bool


@dataclass(frozen=True)
class SearchResults:
    query: str
    mode: str
    cities: tuple
    limit: int
    offset: int
    count: int
    hits: list
    facets: list
    # How the query was read (``understanding.Understood``), if not just as typed.
    understood: object = None
    # Looser matches, shown apart after the last match (on the page where the matches end).
    related: list = field(default_factory=list)


# Looser matches shown on the page where the matches end: as many as fill it, and at least
# this many, so that a last page the matches fill exactly still shows some.
RELATED_MIN = 3


def related_room(count, offset, limit):
    """How many looser matches the page of ``limit`` from ``offset`` shows after ``count``
    matches: some on the page holding the last match (or on the first, when none match), none
    on any other, since no page past the last match is linked."""
    if offset < count <= offset + limit or count == offset == 0:
        return min(limit, max(offset + limit - count, RELATED_MIN))
    return 0


def total_order(ranked):
    """Best first; among equal scores the lower id first, so every page agrees on the order."""
    return sorted(ranked, key=lambda point: (-point.score, point.id))


def searchable_rows(ids):
    """``{id: Row}`` of the searchable companies among ``ids``."""
    found = sql.rows_by_id("searchable rows", _searchable_rows, list(ids))
    return {values[0]: Row(*values) for values in found}


def _searchable_rows():
    return Company.objects.searchable().order_by().values_list(*ROW_FIELDS)


@dataclass(frozen=True)
class Matches:
    """A query's matches that have a searchable row, in rank order, with their rows."""

    ranked: list
    rows: dict
    pinned: frozenset = frozenset()

    @classmethod
    def of(cls, ranked):
        ranked = total_order(ranked)
        rows = searchable_rows(point.id for point in ranked)
        return cls([point for point in ranked if point.id in rows], rows)

    def city_counts(self):
        """``(counts by city key, display name by city key)``."""
        counts, names = Counter(), {}
        for point in self.ranked:
            row = self.rows[point.id]
            counts[row.city_key] += 1
            names.setdefault(row.city_key, row.city)
        return counts, names

    def in_cities(self, city_keys):
        if not city_keys:
            return self.ranked
        return [point for point in self.ranked if self.rows[point.id].city_key in city_keys]

    def hits(self, ranked, query_stems=frozenset()):
        return [
            hit(self.rows[point.id], point.score, query_stems, point.id in self.pinned)
            for point in ranked
        ]

    def without(self, ids):
        """These matches less the companies ``ids``."""
        return Matches([p for p in self.ranked if p.id not in ids], self.rows) if ids else self

    def curated(self, rule):
        """These matches under an editors' ``curations.Rule``: the hidden companies left out,
        the pinned ones (searchable, matching or not) first in the editors' order."""
        if not rule:
            return self
        missing = [pk for pk in rule.pinned if pk not in self.rows]
        rows = {**self.rows, **searchable_rows(missing)} if missing else self.rows
        found = {point.id: point for point in self.ranked}
        pinned = [
            found.get(pk) or RankedPoint(pk, 0.0, rows[pk].city_key, rows[pk].city)
            for pk in rule.pinned
            if pk in rows
        ]
        pinned_ids = frozenset(point.id for point in pinned)
        rest = [p for p in self.ranked if p.id not in rule.hidden and p.id not in pinned_ids]
        return Matches(pinned + rest, rows, pinned_ids)


def hit(company, score, query_stems=frozenset(), pinned=False):
    """A result of ``company`` (a ``Company`` or a ``Row``), its snippet marked for the query."""
    if isinstance(company, Row):
        company = company.as_company()
    return SearchHit(company, score, snippet(company.description, query_stems), pinned)


def city_facets(counts, names, selected):
    """Facet entries, most companies first: ``counts`` and ``selected`` are city keys (text_key),
    ``names`` gives their display names."""
    keys = {key for key in set(counts) | set(selected) if key}
    return sorted(
        (CityFacet(names.get(key) or key, counts.get(key, 0), key in selected) for key in keys),
        key=lambda facet: (-facet.count, facet.value),
    )


def city_listing(query, mode, city_keys, limit, offset, understood=None):
    """Every searchable company in ``city_keys``, by name: a query naming only a place."""
    companies = Company.objects.searchable().filter(city_key__in=city_keys)
    counts, names = Counter(), {}
    for row in companies.order_by().values("city_key", "city").annotate(found=Count("pk")):
        counts[row["city_key"]] += row["found"]
        names.setdefault(row["city_key"], row["city"])
    page = companies.only(*HIT_FIELDS).order_by("name", "pk")[offset : offset + limit]
    return SearchResults(
        query=query,
        mode=mode,
        cities=(),
        limit=limit,
        offset=offset,
        count=min(sum(counts.values()), MAX_MATCHES),
        hits=[hit(company, 0.0) for company in page],
        facets=city_facets(counts, names, city_keys),
        understood=understood,
    )
