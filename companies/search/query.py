"""The search service behind the pages and the API: modes, filters, facets, similar, suggest.

What counts as a match (``count``, facets, how far pages go):
- ``keyword``: every company containing at least one query term (after stemming and
  stopwords), ranked by BM25 and counted exactly; the first ``MAX_MATCHES`` can be paged through.
- ``semantic``: among the ``CANDIDATES`` companies nearest to the query by meaning, those whose
  semantic score (similarity to the whole company and to its best sentence, ``store.Fusion``)
  reaches ``MIN_SCORE``.
- ``hybrid``: among those candidates and the ``CANDIDATES`` best by keywords, those whose hybrid
  score (the semantic score plus a bounded boost for shared keywords) reaches ``MIN_SCORE``.
Each search ranks all of its matches at once, so ``count`` is the same on every page and pages
neither repeat nor skip a company. Filters apply inside each candidate search.
"""

from collections import Counter
from dataclasses import dataclass, replace
from functools import reduce
from operator import or_

from django.db.models import Case, Count, IntegerField, Q, Value, When

from companies.models import Company, name_key, text_key

from . import embedding, keywords
from .highlight import snippet
from .indexing import open_index
from .store import Fusion, RankRequest
from .text import WORD

MODES = ("hybrid", "semantic", "keyword")
DEFAULT_MODE = "hybrid"
# The mode of results that come from the database because the index is unavailable.
DATABASE_MODE = "database"
MAX_DATABASE_WORDS = 10
MAX_QUERY_LENGTH = 999
MAX_LIMIT = 100
# Keyword matches listed (and paged) at most; beyond, they are still counted exactly.
MAX_MATCHES = 1000
# Semantic and hybrid rank the best CANDIDATES by meaning and (hybrid) by keywords.
CANDIDATES = 100
MAX_CITIES = 20
MAX_FACET_CITIES = 1000
MAX_CITY_LENGTH = Company._meta.get_field("city").max_length
# Below this semantic (or hybrid) score a company is not about the query: 95% of the companies
# judged relevant in bench/queries.jsonl score above it.
MIN_SCORE = 0.2
FUSION = Fusion()


class InvalidSearch(ValueError):
    """The search parameters are unusable; the message says why, for the user."""


@dataclass(frozen=True)
class SearchHit:
    company: Company
    score: float
    highlight: str = ""


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


def clean_query(query):
    query = " ".join((query or "").split())
    if not query:
        raise InvalidSearch("Enter something to search for.")
    if len(query) > MAX_QUERY_LENGTH:
        raise InvalidSearch(f"The query is too long: at most {MAX_QUERY_LENGTH} characters.")
    if "\x00" in query:
        raise InvalidSearch("The query contains a NUL character.")
    return query


def clean_cities(cities):
    keys = tuple(sorted({text_key(city) for city in cities if city and city.strip()}))
    if len(keys) > MAX_CITIES:
        raise InvalidSearch(f"Filter by at most {MAX_CITIES} cities.")
    if any(len(key) > MAX_CITY_LENGTH for key in keys):
        raise InvalidSearch(f"A city name has at most {MAX_CITY_LENGTH} characters.")
    return keys


def validate_page(limit, offset):
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidSearch(f"limit must be between 1 and {MAX_LIMIT}.")
    if not 0 <= offset < MAX_MATCHES:
        raise InvalidSearch(f"offset must be between 0 and {MAX_MATCHES - 1}.")


def search_companies(query, *, mode=DEFAULT_MODE, cities=(), limit=10, offset=0):
    """Companies matching ``query`` in ``mode``, best first: ``limit`` from ``offset`` on."""
    query = clean_query(query)
    if mode not in MODES:
        raise InvalidSearch(f"Unknown mode {mode!r}; use one of: {', '.join(MODES)}.")
    validate_page(limit, offset)
    city_keys = clean_cities(cities)

    store = open_index()
    dense = embedding.embed_query(query) if mode != "keyword" else None
    terms = keywords.query_terms(query) if mode != "semantic" else None
    if mode == "keyword" and not terms:  # only stopwords: nothing to look for
        return SearchResults(query, mode, city_keys, limit, offset, 0, [], [])
    requests = ranking_requests(query, dense, terms, city_keys, listed=offset + limit)
    ranked, *unfiltered = store.rank_batch(requests)
    everywhere = unfiltered[0] if unfiltered else ranked
    count = len(ranked)
    city_counts = Counter(point.city for point in everywhere)
    city_names = {point.city: point.city_name for point in everywhere}
    if dense is None and (len(ranked) == requests[0].limit or city_keys):
        # Keyword matches beyond those listed, or in other cities: the store counts them all.
        by_name = store.city_counts(terms=terms, limit=MAX_FACET_CITIES)
        city_counts = Counter()
        for name, found in by_name.items():
            city_counts[text_key(name)] += found
            city_names.setdefault(text_key(name), name)
        count = (
            sum(city_counts[key] for key in city_keys) if city_keys else sum(city_counts.values())
        )
        if len(by_name) == MAX_FACET_CITIES:  # too many cities to add them up
            count = store.count(cities=city_keys, terms=terms)
    elif city_keys:
        # A filtered search looks deeper into its cities than the unfiltered candidates reach:
        # the selected cities count what it found.
        found = Counter(point.city for point in ranked)
        city_counts.update({key: found[key] - city_counts[key] for key in city_keys})
    return SearchResults(
        query=query,
        mode=mode,
        cities=city_keys,
        limit=limit,
        offset=offset,
        count=count,
        hits=load_hits(ranked[offset : offset + limit], keywords.stems(query)),
        facets=city_facets(city_counts, city_names, city_keys),
    )


def ranking_requests(query, dense, terms, city_keys, *, listed=MAX_MATCHES):
    """What a search asks the store.

    By meaning (semantic, hybrid): the whole ranking of its candidates, and with a city filter
    the unfiltered one too (facet counts ignore the city filter itself, so more cities can be
    added to it). By keywords alone: the first ``listed`` (BM25 ranks the same whatever the
    limit); the facets come from the store's counts.
    """
    sources = (dense is not None) + bool(terms)
    request = RankRequest(
        dense=dense,
        terms=terms,
        name_key=name_key(query),
        cities=city_keys,
        limit=listed if dense is None else CANDIDATES * sources,
        candidates=CANDIDATES,
        score_threshold=None if dense is None else MIN_SCORE,
        fusion=FUSION,
    )
    if dense is None or not city_keys:
        return [request]
    return [request, replace(request, cities=())]


def similar_companies(company, *, limit=5, cities=()):
    """The companies most like ``company`` (itself excluded), by their embeddings."""
    validate_page(limit, 0)
    ranked = open_index().recommend(company.pk, cities=clean_cities(cities), limit=limit)
    return load_hits(ranked)


def suggest_companies(prefix, *, limit=8):
    """Companies whose name, or a word of it, starts with ``prefix``: for autocomplete."""
    prefix = " ".join((prefix or "").split())
    if not prefix:
        raise InvalidSearch("Type the start of a company name.")
    if len(prefix) > 100:
        raise InvalidSearch("The prefix is too long: at most 100 characters.")
    starts_name = Q(name__istartswith=prefix)
    matches = Company.objects.filter(starts_name | Q(name__icontains=f" {prefix}"))
    return list(
        matches.annotate(
            rank=Case(
                When(starts_name, then=Value(0)), default=Value(1), output_field=IntegerField()
            )
        ).order_by("rank", "name")[:limit]
    )


def search_database(query, *, cities=(), limit=10, offset=0):
    """Companies ranked by how many query words their name, markets or description contain.

    The fallback while the index is unavailable: it needs only the database (no model, no store),
    so the pages keep answering, by words instead of meaning. Same shape as ``search_companies``,
    with mode ``DATABASE_MODE``; a company matches if it contains any of the words.
    """
    query = clean_query(query)
    validate_page(limit, offset)
    city_keys = clean_cities(cities)
    words = database_words(query)
    if not words:
        return SearchResults(
            query, DATABASE_MODE, city_keys, limit, offset, 0, [], city_facets({}, {}, city_keys)
        )
    contains = [
        Q(name__icontains=word) | Q(tags__icontains=word) | Q(description__icontains=word)
        for word in words
    ]
    matches = Company.objects.filter(reduce(or_, contains))
    city_counts, city_names = Counter(), {}
    for row in matches.values("city").annotate(companies=Count("pk")):
        city_counts[text_key(row["city"])] += row["companies"]
        city_names.setdefault(text_key(row["city"]), row["city"])
    if city_keys:
        matches = matches.filter(reduce(or_, (Q(city__iexact=key) for key in city_keys)))
    ranked = matches.annotate(
        matched_words=_count_true(contains),
        # Among equals, words in the name, then in the markets, weigh more.
        name_words=_count_true(Q(name__icontains=word) for word in words),
        tag_words=_count_true(Q(tags__icontains=word) for word in words),
    ).order_by("-matched_words", "-name_words", "-tag_words", "name", "pk")
    query_stems = keywords.stems(query)
    return SearchResults(
        query=query,
        mode=DATABASE_MODE,
        cities=city_keys,
        limit=limit,
        offset=offset,
        count=min(matches.count(), MAX_MATCHES),
        hits=[
            SearchHit(
                company,
                company.matched_words / len(words),
                snippet(company.description, query_stems),
            )
            for company in ranked[offset : offset + limit]
        ],
        facets=city_facets(city_counts, city_names, city_keys),
    )


def _count_true(conditions):
    """An SQL expression: how many of ``conditions`` hold for a row."""
    return sum(
        (
            Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())
            for condition in conditions
        ),
        Value(0),
    )


def database_words(query):
    """What ``search_database`` looks for: the query's words, stopwords and letters left out.

    A word counts by its stem where the stem is its beginning ("parking" -> "park"), so plurals
    and other endings match too.
    """
    words = []
    for word in (match.group().lower() for match in WORD.finditer(query)):
        stem = keywords.word_stem(word)
        if stem is None or len(word) < 2:
            continue
        word = stem if len(stem) >= 3 and word.startswith(stem) else word
        if word not in words:
            words.append(word)
    return words[:MAX_DATABASE_WORDS]


# What result cards and the API show of a company.
HIT_FIELDS = ("name", "slug", "description", "city", "link", "image_url")


def load_hits(ranked, query_stems=frozenset()):
    """The companies of ``ranked`` in one query, in rank order; points without a row skipped."""
    companies = Company.objects.only(*HIT_FIELDS).in_bulk([point.id for point in ranked])
    return [
        SearchHit(
            companies[point.id], point.score, snippet(companies[point.id].description, query_stems)
        )
        for point in ranked
        if point.id in companies
    ]


def city_facets(counts, names, selected):
    """Facet entries, most companies first: ``counts`` and ``selected`` are normalised city
    keys, ``names`` gives their display names."""
    keys = {key for key in set(counts) | set(selected) if key}
    return sorted(
        (CityFacet(names.get(key) or key, counts.get(key, 0), key in selected) for key in keys),
        key=lambda facet: (-facet.count, facet.value),
    )
