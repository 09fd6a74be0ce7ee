"""What the searchable companies say, as query understanding needs it: words, cities, names.

Built from the database, never from a fixed list, and held once per process. It follows the data:
a save or delete in this process marks it stale (``changed``, from the app's signals); changes
made elsewhere (another process, a bulk import, an update that bypassed the signals) are seen
when the table's signature (row count, newest ``updated_at``) differs, checked at most every
``VOCABULARY_CHECK_SECONDS``, in a thread of its own, so that a search costs no query.
"""

import logging
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Max

from companies.models import Company, text_key

from .conf import search_setting
from .keywords import word_stem
from .text import WORD

logger = logging.getLogger(__name__)

# City names of up to this many words are recognised ("new york", "san luis obispo").
MAX_CITY_WORDS = 4


@dataclass(frozen=True)
class Vocabulary:
    """What the searchable companies say.

    - ``words``: word -> companies using it (names, markets, descriptions, cities; text_key'd);
      ``stems``: their stems;
    - ``cities``: city key -> display name (its most common spelling); ``city_names``: city
      key -> the word tuples of the company names holding that city, so that "Chicago Public
      Schools" is not read as a place; ``city_deletions``: each city key and each of its
      one-letter deletions -> the city keys (a SymSpell index: the cities one typo from a
      phrase are found by looking up its own deletions);
    - ``names``: (name key, company id) of every company.
    """

    words: dict
    stems: frozenset
    cities: dict
    city_names: dict
    city_deletions: dict
    names: tuple

    @classmethod
    def build(cls, rows):
        """From ``(id, name, tags, description, city)`` rows of the searchable companies."""
        words, spellings, name_words, names = Counter(), defaultdict(Counter), [], []
        for pk, name, tags, description, city in rows:
            names.append((text_key(name), pk))
            words.update(set(WORD.findall(text_key(f"{name} {tags} {description} {city}"))))
            key = text_key(city)
            if key:
                spellings[key][city] += 1
            name_words.append(tuple(WORD.findall(text_key(name))))
        cities = {key: names.most_common(1)[0][0] for key, names in spellings.items()}
        city_words = {tuple(WORD.findall(key)): key for key in cities}
        city_names = defaultdict(set)
        for name in name_words:
            for size in range(1, min(MAX_CITY_WORDS, len(name)) + 1):
                for start in range(len(name) - size + 1):
                    key = city_words.get(name[start : start + size])
                    if key:
                        city_names[key].add(name)
        return cls(
            words=dict(words),
            stems=frozenset(filter(None, map(word_stem, words))),
            cities=cities,
            city_names={key: frozenset(found) for key, found in city_names.items()},
            city_deletions=_deletion_index(cities),
            names=tuple(names),
        )


def one_deletion(word):
    """``word`` and every string one letter shorter than it."""
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}


def _deletion_index(keys):
    index = defaultdict(set)
    for key in keys:
        for deletion in one_deletion(key):
            index[deletion].add(key)
    return {deletion: frozenset(found) for deletion, found in index.items()}


_lock = threading.Lock()
_background = threading.Lock()  # held while a refresh runs in a thread of its own
_state = {"vocabulary": None, "signature": None, "checked": 0.0, "stale": True}


def changed():
    """A company was saved or deleted in this process: rebuild before long."""
    _state["stale"] = True


def current():
    """The vocabulary of the companies as they are now, or as they were a moment ago.

    The first one is built in the caller. After that a change is picked up by a rebuild in a
    thread of its own (seconds at 50,000 companies), while searches go on with the one they
    have; with ``VOCABULARY_CHECK_SECONDS`` at 0 (tests) it is checked and rebuilt in the caller.
    """
    vocabulary = _state["vocabulary"]
    interval = search_setting("VOCABULARY_CHECK_SECONDS")
    due = time.monotonic() - _state["checked"] >= interval
    if vocabulary is not None and not _state["stale"] and not due:
        return vocabulary
    if vocabulary is None or not interval:
        _refresh()
    elif _background.acquire(blocking=False):
        _state["checked"] = time.monotonic()  # one refresh at a time
        threading.Thread(target=_refresh_in_background, daemon=True).start()
    return _state["vocabulary"]


def _refresh():
    with _lock:
        signature = _signature()
        if _state["stale"] or _state["vocabulary"] is None or signature != _state["signature"]:
            _state["stale"] = False
            rows = Company.objects.searchable().values_list(
                "pk", "name", "tags", "description", "city"
            )
            _state["vocabulary"] = Vocabulary.build(rows.iterator(chunk_size=2000))
            _state["signature"] = signature
        _state["checked"] = time.monotonic()


def _refresh_in_background():
    try:
        _refresh()
    except Exception:
        logger.exception(
            "Could not refresh the search vocabulary", extra={"event": "vocabulary_failed"}
        )
    finally:
        connection.close()  # this thread's own database connection
        _background.release()


def _signature():
    found = Company.objects.aggregate(rows=Count("pk"), latest=Max("updated_at"))
    return (found["rows"], found["latest"])
