"""Reading a query as people mean it: misspelt words corrected, a named place made a filter.

"fintech in London" is ranked as "fintech" among the companies in London; "London startups",
"berlin solar", "… based in Austin" likewise. A place is a city the companies have (their
``city_key``s, from ``vocabulary``), typed exactly or within one edit ("Lodnon"); the cities
within one edit of it are its spellings and are searched with it ("Londo" next to "London",
until an editor merges them). A city inside a company's name typed with the rest of that name
("Chicago Public Schools") is not a place. An explicit city filter wins: then no place is read.

Spelling correction (``spelling``) applies in keyword and hybrid modes, before places are read,
so "Chciago Public Schools" finds the school and "QR codes in Lodnon" the city.
"""

from dataclasses import dataclass

from rapidfuzz.distance import OSA

from companies.models import text_key

from . import spelling, vocabulary
from .keywords import STOPWORDS
from .text import WORD
from .vocabulary import MAX_CITY_WORDS, one_deletion

# Shorter city names must be typed exactly; longer ones may have one typo.
FUZZY_CITY_FROM = 5
# Words that tie a place to the query ("in London", "London-based") and go with it.
BEFORE_PLACE = (("based", "in"), ("located", "in"), ("out", "of"), ("in",), ("from",), ("near",))
AFTER_PLACE = (("based",), ("area",))
# Words that say nothing beyond "companies": with only these left, the place is the query.
GENERIC = frozenset(
    "startup startups company companies business businesses firm firms list all".split()
)
STRIP = " \t,;:-–—/|&+."


@dataclass(frozen=True)
class Understood:
    """``query``: what is ranked; ``cities``: the city keys read from the query (a filter);
    ``city_names``: their display names, in the same order; ``suggestion``: the typed query with
    its misspelt words corrected (None if none were)."""

    query: str
    cities: tuple = ()
    city_names: tuple = ()
    suggestion: str = None

    @property
    def changed(self):
        return bool(self.cities or self.suggestion)


def understand(query, *, mode, cities=()):
    """What ``query`` (clean, as ``params.clean_query`` leaves it) asks for, in ``mode``."""
    words = vocabulary.current()
    correction = spelling.correct(query, words) if mode != "semantic" else None
    text = correction.text if correction else query
    suggestion = correction.text if correction else None
    if cities:
        return Understood(text, suggestion=suggestion)
    places, rest = read_places(text, words)
    cities = tuple(sorted(places))
    return Understood(
        query=rest,
        cities=cities,
        city_names=tuple(words.cities[key] for key in cities),
        suggestion=suggestion,
    )


def read_places(text, words):
    """``(city keys, the text without them)``; no place found: ``(set(), text)``."""
    tokens = [
        (match.start(), match.end(), text_key(match.group())) for match in WORD.finditer(text)
    ]
    keys = [token[2] for token in tokens]
    places, removed, start = set(), set(), 0
    while start < len(keys):
        found = _place_at(keys, start, words)
        if found is None:
            start += 1
            continue
        size, spellings = found
        places |= spellings
        span = set(range(start, start + size))
        span |= _connectors(keys, start, start + size)
        removed |= span
        start += size
    if not places:
        return set(), text
    rest = _without(text, [tokens[i] for i in sorted(removed)])
    if all(key in GENERIC or key in STOPWORDS for key in WORD.findall(text_key(rest))):
        rest = ""
    return places, rest


def _place_at(keys, start, words):
    """``(words taken, city keys)`` of the longest city starting at word ``start``, or None."""
    for size in range(min(MAX_CITY_WORDS, len(keys) - start), 0, -1):
        phrase = " ".join(keys[start : start + size])
        spellings = city_spellings(phrase, words)
        if spellings and not _in_a_name(keys, start, size, spellings, words):
            return size, spellings
    return None


def city_spellings(phrase, words):
    """The city keys ``phrase`` names: itself if a city, and the cities within one edit."""
    if len(phrase) < FUZZY_CITY_FROM:
        return {phrase} if phrase in words.cities else set()
    near = set().union(*(words.city_deletions.get(d, ()) for d in one_deletion(phrase)))
    return {key for key in near if OSA.distance(key, phrase, score_cutoff=1) <= 1}


def _in_a_name(keys, start, size, spellings, words):
    """Whether the words around ``keys[start:start + size]`` (a city, maybe misspelt) spell a
    company name holding that city."""
    place = range(start, start + size)
    for key in spellings:
        for name in words.city_names.get(key, ()):
            if len(name) == size and len(keys) > size:
                continue  # a company named just "London" does not hide "London startups"
            for first in range(max(0, start + size - len(name)), start + 1):
                window = keys[first : first + len(name)]
                if len(window) == len(name) and all(
                    first + i in place or word == name[i] for i, word in enumerate(window)
                ):
                    return True
    return False


def _connectors(keys, begin, end):
    """Positions of the words tying the place at ``keys[begin:end]`` to the query."""
    taken = set()
    for words in BEFORE_PLACE:
        if tuple(keys[max(0, begin - len(words)) : begin]) == words and begin >= len(words):
            taken |= set(range(begin - len(words), begin))
            break
    for words in AFTER_PLACE:
        if tuple(keys[end : end + len(words)]) == words:
            taken |= set(range(end, end + len(words)))
            break
    return taken


def _without(text, tokens):
    """``text`` with the words ``tokens`` (start, end, key) cut out, tidied."""
    pieces, end = [], 0
    for start, stop, _ in tokens:
        pieces.append(text[end:start])
        end = stop
    pieces.append(text[end:])
    kept = [piece.strip(STRIP) for piece in pieces]
    return " ".join(" ".join(piece for piece in kept if piece).split())
