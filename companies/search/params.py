"""What a search may ask, checked once for every search, the fallback and suggestions.

Every query text is normalised with NFKC here, before it is embedded, split into keywords or
highlighted: a decomposed accent or full-width letters find what the composed, plain form finds.
"""

import unicodedata

from companies.models import Company, has_visible, text_key

MODES = ("hybrid", "semantic", "keyword")
DEFAULT_MODE = "hybrid"
MAX_QUERY_LENGTH = 999
MAX_PREFIX_LENGTH = 100
MAX_LIMIT = 100
# Matches listed (and paged) at most; keyword matches beyond are still counted.
MAX_MATCHES = 1000
MAX_CITIES = 20
MAX_CITY_LENGTH = Company._meta.get_field("city").max_length


class InvalidSearch(ValueError):
    """The search parameters are unusable; the message says why, for the user."""


def clean_text(text):
    """NFKC, whitespace collapsed: the form of a query every step sees."""
    return " ".join(unicodedata.normalize("NFKC", text or "").split())


def clean_query(query):
    return _clean(query, "query", MAX_QUERY_LENGTH, "Enter something to search for.")


def clean_prefix(prefix):
    return _clean(prefix, "prefix", MAX_PREFIX_LENGTH, "Type the start of a company name.")


def clean_mode(mode):
    if mode not in MODES:
        raise InvalidSearch(f"Unknown mode {mode!r}; use one of: {', '.join(MODES)}.")
    return mode


def _clean(text, what, max_length, when_empty):
    if "\x00" in (text or ""):
        raise InvalidSearch(f"The {what} contains a NUL character.")
    text = clean_text(text)
    if not has_visible(text):  # empty, or only invisible characters (a zero-width space…)
        raise InvalidSearch(when_empty)
    if len(text) > max_length:
        raise InvalidSearch(f"The {what} is too long: at most {max_length} characters.")
    return text


def clean_cities(cities):
    """The cities' ``text_key``s, sorted and once each: what filters compare.

    The length limit is the model's, on the name as given: normalising may lengthen it (a
    ligature becomes two letters), which must not turn an acceptable name into a refusal.
    """
    cities = [city for city in cities if city and city.strip()]
    if any(len(city) > MAX_CITY_LENGTH for city in cities):
        raise InvalidSearch(f"A city name has at most {MAX_CITY_LENGTH} characters.")
    keys = tuple(sorted({text_key(city) for city in cities}))
    if len(keys) > MAX_CITIES:
        raise InvalidSearch(f"Filter by at most {MAX_CITIES} cities.")
    return keys


def validate_page(limit, offset):
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidSearch(f"limit must be between 1 and {MAX_LIMIT}.")
    if not 0 <= offset < MAX_MATCHES:
        raise InvalidSearch(f"offset must be between 0 and {MAX_MATCHES - 1}.")
