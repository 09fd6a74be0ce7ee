"""The search service's public names, for the web layer: each lives in its own module.

- ``ranking``: search by the index (modes, facets) and similar companies;
- ``fallback``: search by the database while the index is unavailable;
- ``suggest``: name suggestions for autocomplete;
- ``params``: what a search may ask (shared checks and limits); ``results``: what it answers.
"""

from .fallback import DATABASE_MODE, search_database
from .params import (
    DEFAULT_MODE,
    MAX_CITIES,
    MAX_CITY_LENGTH,
    MAX_LIMIT,
    MAX_MATCHES,
    MAX_QUERY_LENGTH,
    MODES,
    InvalidSearch,
)
from .ranking import search_companies, similar_companies
from .results import CityFacet, SearchHit, SearchResults
from .suggest import suggest_companies

__all__ = [
    "DATABASE_MODE",
    "DEFAULT_MODE",
    "MAX_CITIES",
    "MAX_CITY_LENGTH",
    "MAX_LIMIT",
    "MAX_MATCHES",
    "MAX_QUERY_LENGTH",
    "MODES",
    "CityFacet",
    "InvalidSearch",
    "SearchHit",
    "SearchResults",
    "search_companies",
    "search_database",
    "similar_companies",
    "suggest_companies",
]
