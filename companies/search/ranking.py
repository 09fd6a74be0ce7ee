"""Search by the index: the three modes, their city facets, and similar companies.

What counts as a match (``count``, facets, how far pages go):
- ``keyword``: every company containing each word of the query (after stemming and stopwords;
  a word an editors' synonym group covers, or one of the group's terms), ranked by BM25, as
  site searches do by default; the first ``MAX_MATCHES`` can be paged through and are counted
  exactly, beyond that the index counts the rest. The companies holding only some of the words
  follow the last match, shown apart as looser ones.
- ``semantic``: among the ``CANDIDATES`` companies nearest to the query by meaning, those whose
  semantic score (similarity to the whole company and to its best sentence, ``plan.Fusion``)
  reaches ``MIN_SCORE``.
- ``hybrid``: among those candidates and the ``CANDIDATES`` best by keywords, those whose hybrid
  score (the semantic score plus a bounded boost for shared keywords) reaches ``MIN_SCORE``.

In semantic and hybrid mode the matches are then those about the query: within ``MATCH_MARGIN``
of the best score (a company named by the query is not the yardstick: its name boost would
leave nothing else), calibrated on the judged queries by ``bench/quality.py --calibrate``.

The match set of a query does not depend on its city filter: candidates are drawn without it,
then the filter and the facets partition the matches (``results.Matches``). So a city's facet
count equals the count with that city selected, the counts of the selected cities add up to
the filtered count, and a page is cut from one ranking whichever page is asked.

Query understanding (``understanding``) first corrects misspelt words and reads a named place
("fintech in London"): the rest of the query is ranked among that place's companies, drawn
inside it, so the facets are the place's cities and add up to the count. A place alone
("London startups") lists its companies by name.
"""

from collections import Counter
from dataclasses import replace

from companies.models import name_key, text_key

from . import curations, embedding, keywords, synonyms, understanding
from .indexing import open_index
from .params import (
    DEFAULT_MODE,
    MAX_MATCHES,
    clean_cities,
    clean_mode,
    clean_query,
    validate_page,
)
from .plan import Fusion, RankRequest
from .results import (
    Matches,
    SearchResults,
    city_facets,
    city_listing,
    related_room,
    searchable_rows,
    total_order,
)

# Semantic and hybrid rank the best CANDIDATES by meaning and (hybrid) by keywords.
CANDIDATES = 100
MAX_FACET_CITIES = 1000
# Below this semantic (or hybrid) score a company is not about the query: 95% of the companies
# judged relevant in bench/queries.jsonl score above it.
MIN_SCORE = 0.2
# A semantic or hybrid match scores at least the best score minus this: the margin that keeps
# the median match set near 15 companies on the judged queries (bench/quality.py --calibrate;
# its figures are in the README).
MATCH_MARGIN = 0.27
FUSION = Fusion()
# Similar companies asked beyond those shown, so hidden ones can be left out.
SIMILAR_SPARE = 5


def search_companies(
    query, *, mode=DEFAULT_MODE, cities=(), limit=10, offset=0, understand=True, related=True
):
    """Companies matching ``query`` in ``mode``, best first: ``limit`` from ``offset`` on.

    With ``understand``, misspelt words are corrected and a place named in the query becomes
    the city filter (unless ``cities`` is given); the result's ``understood`` says how. Without
    ``related``, no looser matches are looked for (callers that show only the matches).
    """
    query = clean_query(query)
    mode = clean_mode(mode)
    validate_page(limit, offset)
    city_keys = clean_cities(cities)
    understood = (
        understanding.understand(query, mode=mode, cities=city_keys) if understand else None
    )
    text, scope = (understood.query, understood.cities) if understood else (query, ())
    if scope and not text:
        return city_listing(query, mode, scope, limit, offset, understood)
    scope_names = dict(zip(scope, understood.city_names)) if scope else {}
    found = _search(text, mode, city_keys, scope_names, limit, offset, related, typed=query)
    return replace(
        found, query=query, understood=understood if understood and understood.changed else None
    )


def _search(query, mode, city_keys, scope_names, limit, offset, related, typed=None):
    """The search proper of ``query``; ``scope_names``: the cities it is confined to (keys to
    display names), if any; ``related``: whether looser matches are wanted. Editors'
    curations are looked up for the query as ``typed`` (as the search log records it), else as
    understood."""
    scope = tuple(scope_names)
    store = open_index()
    rule = curations.rule_for(typed or query, query)
    words = synonyms.expanded(query) if mode != "semantic" else query
    query_stems = keywords.stems(words)
    dense = embedding.embed_query(query) if mode != "keyword" else None
    terms = keywords.query_terms(words) if mode != "semantic" else None
    required = None
    if dense is None and terms:
        required = keywords.required_terms(synonyms.requirements(query))
        terms = tuple(sorted(set(terms).union(*(t for group in required for t in group))))
    requests = ranking_requests(query, dense, terms, city_keys, scope, required)
    # Only stopwords in keyword mode: nothing to look for (but what editors pinned).
    ranked, *filtered = store.rank_batch(requests) if dense is not None or terms else [[]]
    looser = []
    if dense is None and terms and len(ranked) == requests[0].limit and not scope:
        # More keyword matches than are listed: the index counts them all, the page comes from
        # the filtered ranking, and only the rows up to the page are read.
        matches, page = _page_of(
            filtered[0] if city_keys else ranked, offset, limit, query_stems, rule, city_keys
        )
        counts, names, count = _keyword_counts(store, required, city_keys, matches, rule)
    else:
        about, loose = about_the_query(Matches.of(ranked), name_key(query), dense is not None)
        matches = about.curated(rule)
        loose = loose.without(rule.hidden | matches.pinned)
        counts, names = matches.city_counts()
        for key, name in scope_names.items():
            names.setdefault(key, name)
        shown = matches.in_cities(city_keys)
        count = len(shown)
        page = matches.hits(shown[offset : offset + limit], query_stems)
        room = related_room(count, offset, limit) if related else 0
        if room:
            if required and len(required) > 1:  # by keywords: those holding only some words
                loose = _holding_some_words(store, requests[0], matches, city_keys, room, rule)
            looser = loose.hits(loose.in_cities(city_keys)[:room], query_stems)
    return SearchResults(
        query=query,
        mode=mode,
        cities=city_keys,
        limit=limit,
        offset=offset,
        count=count,
        hits=page,
        facets=city_facets(counts, names, city_keys or scope),
        related=looser,
    )


def about_the_query(matches, query_name, by_meaning=True):
    """``(matches, looser ones)``: by meaning, the matches are those within ``MATCH_MARGIN`` of
    the best score, and any company the query names; by keywords alone, all of them.

    The yardstick is the best score of a company the query does not name, so a name query
    keeps the companies like the named one.
    """
    if not by_meaning:
        return matches, Matches([], {})
    named = {p.id for p in matches.ranked if name_key(matches.rows[p.id].name) == query_name}
    others = [point.score for point in matches.ranked if point.id not in named]
    floor = max(others, default=0) - MATCH_MARGIN
    about = [point for point in matches.ranked if point.id in named or point.score >= floor]
    kept = {point.id for point in about}
    return (
        Matches(about, matches.rows),
        Matches([point for point in matches.ranked if point.id not in kept], matches.rows),
    )


def ranking_requests(query, dense, terms, city_keys=(), scope=(), required=None):
    """What a search asks the store: one ranking of all its matches, without the city filter
    (but inside ``scope``, the cities a query names).

    By meaning (semantic, hybrid): every candidate above ``MIN_SCORE``. By keywords alone: the
    first ``MAX_MATCHES`` by BM25 of those that meet ``required``, and with a city filter also
    the first ``MAX_MATCHES`` in those cities, used when there are more matches than one ranking
    lists.
    """
    sources = (dense is not None) + bool(terms)
    request = RankRequest(
        dense=dense,
        terms=terms,
        name_key=name_key(query),
        cities=tuple(scope),
        limit=MAX_MATCHES if dense is None else CANDIDATES * sources,
        candidates=CANDIDATES,
        score_threshold=None if dense is None else MIN_SCORE,
        fusion=FUSION,
        required=required,
    )
    if dense is None and city_keys and not scope:
        return [request, replace(request, cities=city_keys)]
    return [request]


def _holding_some_words(store, request, matches, city_keys, room, rule):
    """Companies (in ``city_keys``, if any) holding some of the query's words but not all, by
    BM25: as many as fill the ``room`` the ``matches`` leave on their last page."""
    cities = city_keys or request.cities
    wanted = len(matches.in_cities(city_keys)) + room + len(rule.hidden)
    ranked = store.rank(replace(request, required=None, cities=cities, limit=wanted))
    left_out = {point.id for point in matches.ranked} | rule.hidden
    return Matches.of(point for point in ranked if point.id not in left_out)


def _keyword_counts(store, required, city_keys, matches, rule):
    """Facets and count of keyword matches beyond those listed, as the index counts them.

    The index counts the matches that are neither pinned nor hidden; the pinned ones are
    matches wherever they are (``Matches.curated``), so they are added by their rows.
    """
    curated = tuple(sorted(rule.hidden | matches.pinned))
    by_name = store.city_counts(required=required, exclude_ids=curated, limit=MAX_FACET_CITIES)
    counts, names = Counter(), {}
    for name, found in by_name.items():
        key = text_key(name)
        counts[key] += found
        names.setdefault(key, name)
    pinned = Counter()
    for pk in matches.pinned:
        row = matches.rows[pk]
        pinned[row.city_key] += 1
        names.setdefault(row.city_key, row.city)
    if len(by_name) == MAX_FACET_CITIES:  # too many cities to add them up
        count = store.count(cities=city_keys, required=required, exclude_ids=curated)
        count += sum(pinned[key] for key in city_keys) if city_keys else sum(pinned.values())
    counts += pinned
    if len(by_name) < MAX_FACET_CITIES:
        count = sum(counts[key] for key in city_keys) if city_keys else sum(counts.values())
    return counts, names, count


def _page_of(ranked, offset, limit, query_stems, rule, city_keys):
    """``(matches, page)`` of ``ranked`` under ``rule``, reading rows only as far as the page.

    The matches read are a prefix of those of the whole ranking (with every pinned company),
    so the page is the one the whole ranking gives: a thousand rows cost more to read than
    the rest of a keyword search (bench/latency.py).
    """
    ranked = total_order(ranked)
    wanted = offset + limit
    size = wanted + len(rule.hidden) + len(rule.pinned) if rule else wanted
    while True:
        head = ranked[:size]
        if rule:
            head += [point for point in ranked[size:] if point.id in rule.pinned]
        matches = Matches.of(head).curated(rule)
        shown = matches.in_cities(city_keys)
        if len(shown) >= wanted or size >= len(ranked):
            return matches, matches.hits(shown[offset:wanted], query_stems)
        size *= 2


def similar_companies(company, *, limit=5, cities=()):
    """The searchable companies most like ``company`` (itself excluded), by their embeddings."""
    validate_page(limit, 0)
    ranked = open_index().recommend(
        company.pk, cities=clean_cities(cities), limit=limit + SIMILAR_SPARE
    )
    rows = searchable_rows(point.id for point in ranked)
    matches = Matches([point for point in total_order(ranked) if point.id in rows], rows)
    return matches.hits(matches.ranked[:limit])
