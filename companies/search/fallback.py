"""Search by the database alone: what the pages answer while the index is unavailable.

It needs no model and no store, so the pages keep answering, by words instead of meaning. Same
shape as ``ranking.search_companies``, with mode ``DATABASE_MODE``; a company matches if it
contains any of the query's words, and only searchable companies do.
"""

from collections import Counter
from functools import reduce
from operator import or_

from django.db.models import Case, Count, IntegerField, Q, Value, When

from companies.models import Company

from . import keywords
from .params import MAX_MATCHES, clean_cities, clean_query, validate_page
from .results import HIT_FIELDS, SearchResults, city_facets, hit
from .text import WORD

# The mode of results that come from the database because the index is unavailable.
DATABASE_MODE = "database"
MAX_DATABASE_WORDS = 10


def search_database(query, *, cities=(), limit=10, offset=0):
    """Companies ranked by how many query words their name, markets or description contain."""
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
    matches = Company.objects.searchable().filter(reduce(or_, contains))
    city_counts, city_names = Counter(), {}
    for row in matches.values("city_key", "city").annotate(companies=Count("pk")):
        city_counts[row["city_key"]] += row["companies"]
        city_names.setdefault(row["city_key"], row["city"])
    if city_keys:
        matches = matches.filter(city_key__in=city_keys)
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
            hit(company, company.matched_words / len(words), query_stems)
            for company in ranked.only(*HIT_FIELDS)[offset : offset + limit]
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
