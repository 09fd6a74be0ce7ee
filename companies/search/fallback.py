"""Search by the database alone: what the pages answer while the index is unavailable.

It needs no model and no store, so the pages keep answering, by words instead of meaning. Same
shape as ``ranking.search_companies``, with mode ``DATABASE_MODE``. A company matches as in
keyword mode, if it contains every word of the query (or a synonym standing for it), and only
searchable companies do; editors' curations apply as in ``ranking``.
"""

from collections import Counter
from functools import reduce
from operator import and_, or_

from django.db.models import Case, Count, IntegerField, Q, Value, When

from companies.models import Company

from . import curations, keywords, synonyms
from .params import MAX_MATCHES, clean_cities, clean_query, validate_page
from .results import HIT_FIELDS, SearchResults, city_facets, hit, related_room, searchable_rows
from .text import WORD

# The mode of results that come from the database because the index is unavailable.
DATABASE_MODE = "database"
MAX_DATABASE_WORDS = 10


def search_database(query, *, cities=(), limit=10, offset=0, related=True):
    """Companies holding every word of the query (as keyword mode asks), ranked by how many of
    the query's words and synonyms their name, markets or description contain; on the page
    where they end, those holding only some of the words follow, apart (``related``, unless
    not wanted)."""
    query = clean_query(query)
    validate_page(limit, offset)
    city_keys = clean_cities(cities)
    required = database_requirements(query)
    # Every word a requirement names, so that a company holding all it asks scores 1.
    words = list(dict.fromkeys(w for phrases in required for phrase in phrases for w in phrase))
    rule = curations.rule_for(query)
    # Editors' pins come first (searchable ones, in the editors' order), hidden ones never.
    pinned_rows = searchable_rows(rule.pinned)
    pinned = [pinned_rows[pk] for pk in rule.pinned if pk in pinned_rows]
    shown_elsewhere = [*rule.hidden, *pinned_rows]
    if required:
        matches = Company.objects.searchable().filter(_holding_all(required))
        matches = matches.exclude(pk__in=shown_elsewhere)
    else:
        matches = Company.objects.none()
    city_counts, city_names = Counter(), {}
    for row in matches.values("city_key", "city").annotate(companies=Count("pk")):
        city_counts[row["city_key"]] += row["companies"]
        city_names.setdefault(row["city_key"], row["city"])
    for company in pinned:
        city_counts[company.city_key] += 1
        city_names.setdefault(company.city_key, company.city)
    if city_keys:
        matches = matches.filter(city_key__in=city_keys)
        pinned = [company for company in pinned if company.city_key in city_keys]
    query_stems = keywords.stems(" ".join(words))
    page = [hit(company, 1.0, query_stems, pinned=True) for company in pinned][
        offset : offset + limit
    ]
    if required and len(page) < limit:
        start = max(offset - len(pinned), 0)
        page += _ranked_hits(matches, words, query_stems, start, limit - len(page))
    count = matches.count() + len(pinned)
    looser = []
    room = related_room(count, offset, limit) if related else 0
    if len(required) > 1 and room:
        loose = Company.objects.searchable().filter(reduce(or_, map(_contains, words)))
        loose = loose.exclude(pk__in=shown_elsewhere).exclude(pk__in=matches.values("pk"))
        if city_keys:
            loose = loose.filter(city_key__in=city_keys)
        looser = _ranked_hits(loose, words, query_stems, 0, room)
    return SearchResults(
        query=query,
        mode=DATABASE_MODE,
        cities=city_keys,
        limit=limit,
        offset=offset,
        count=min(count, MAX_MATCHES),
        hits=page,
        facets=city_facets(city_counts, city_names, city_keys),
        related=looser,
    )


def _ranked_hits(companies, words, query_stems, start, size):
    """``size`` hits from ``start`` of ``companies``, by how many of ``words`` they contain;
    among equals, words in the name, then in the markets, weigh more."""
    ranked = companies.annotate(
        matched_words=_count_true(map(_contains, words)),
        name_words=_count_true(Q(name__icontains=word) for word in words),
        tag_words=_count_true(Q(tags__icontains=word) for word in words),
    ).order_by("-matched_words", "-name_words", "-tag_words", "name", "pk")
    return [
        hit(company, company.matched_words / len(words), query_stems)
        for company in ranked.only(*HIT_FIELDS)[start : start + size]
    ]


def _contains(word):
    return Q(name__icontains=word) | Q(tags__icontains=word) | Q(description__icontains=word)


def _holding_all(required):
    """An SQL condition: every requirement met, each by one of its phrases' words all there."""
    return reduce(
        and_,
        (
            reduce(or_, (reduce(and_, map(_contains, phrase)) for phrase in phrases))
            for phrases in required
        ),
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


def database_requirements(query):
    """``synonyms.requirements`` in ``database_words`` (``keywords.tokenised``); at most
    ``MAX_DATABASE_WORDS``, from the query's first 2 x ``MAX_DATABASE_WORDS`` words (room for
    stopwords)."""
    capped = " ".join(query.split()[: MAX_DATABASE_WORDS * 2])
    required = keywords.tokenised(
        synonyms.requirements(capped), lambda phrase: tuple(database_words(phrase))
    )
    return required[:MAX_DATABASE_WORDS]
