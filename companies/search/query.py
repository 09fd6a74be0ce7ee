"""The search service behind the pages and the API."""

from dataclasses import dataclass

from companies.models import Company, normalize_city

from . import embedding
from .indexing import open_index

MAX_QUERY_LENGTH = 999
MAX_LIMIT = 100
# Results are ranked in full up to this depth; deeper pages would be noise, not answers.
MAX_MATCHES = 1000
# A company matches a semantic query when the cosine similarity of their embeddings reaches
# this: below it, results are unrelated (measured on the demo data with bench/quality.py).
SEMANTIC_MIN_SCORE = 0.2

MODES = ("semantic",)
PLANNED_MODES = ("hybrid", "keyword")


class InvalidSearch(ValueError):
    """The search parameters are unusable; the message says why, for the user."""


@dataclass(frozen=True)
class SearchHit:
    company: Company
    score: float


@dataclass(frozen=True)
class SearchResults:
    query: str
    mode: str
    cities: tuple
    limit: int
    offset: int
    count: int
    hits: list


def clean_query(query):
    query = " ".join((query or "").split())
    if not query:
        raise InvalidSearch("Enter something to search for.")
    if len(query) > MAX_QUERY_LENGTH:
        raise InvalidSearch(f"The query is too long: at most {MAX_QUERY_LENGTH} characters.")
    return query


def search_companies(query, *, mode="semantic", cities=(), limit=10, offset=0):
    """Companies matching ``query``, best first: the page ``offset``..``offset+limit``.

    ``count`` is the number of matches: companies whose similarity to the query reaches
    ``SEMANTIC_MIN_SCORE`` (at most ``MAX_MATCHES``), within the given cities. The ranking is
    deterministic, so consecutive pages neither repeat nor skip a company.
    """
    query = clean_query(query)
    if mode in PLANNED_MODES:
        raise InvalidSearch(f"Mode {mode!r} is not available yet; use mode=semantic.")
    if mode not in MODES:
        raise InvalidSearch(f"Unknown mode {mode!r}; use one of: {', '.join(MODES)}.")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidSearch(f"limit must be between 1 and {MAX_LIMIT}.")
    if not 0 <= offset < MAX_MATCHES:
        raise InvalidSearch(f"offset must be between 0 and {MAX_MATCHES - 1}.")
    city_keys = tuple(sorted({normalize_city(city) for city in cities if city and city.strip()}))

    store = open_index()
    matches = store.search_dense(
        embedding.embed_query(query),
        cities=city_keys,
        limit=MAX_MATCHES,
        score_threshold=SEMANTIC_MIN_SCORE,
    )
    page = matches[offset:offset + limit]
    return SearchResults(
        query=query,
        mode=mode,
        cities=city_keys,
        limit=limit,
        offset=offset,
        count=len(matches),
        hits=load_hits(page),
    )


def load_hits(scored_ids):
    """The companies of ``scored_ids`` in one query, in rank order; points without a row skipped."""
    companies = Company.objects.in_bulk([scored.id for scored in scored_ids])
    return [
        SearchHit(companies[scored.id], scored.score)
        for scored in scored_ids
        if scored.id in companies
    ]
