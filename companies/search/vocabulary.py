"""What the searchable companies say, as query understanding needs it: words, cities, names.

Built from the database, never from a fixed list, and held once per process. It follows the data:
a save or delete in this process marks it stale (``changed``, from the app's signals); changes
made elsewhere (another process, a bulk import, an update that bypassed the signals) are seen
when the table's signature (row count, newest ``updated_at``) differs, checked at most every
``VOCABULARY_CHECK_SECONDS``, in a thread of its own, so that a search costs no query.

Building reads every searchable company: seconds per 100,000 of them. So each build is stored
(``VocabularySnapshot``, one row) with the signature it was built at, and a process that needs
the vocabulary of a signature already stored loads it instead (2 s against 16 s to build at a
million companies), so a process just started answers its first search without building it,
and of several processes that see the same change, one builds (docs/performance.md).
"""

import gzip
import json
import logging
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db import DatabaseError, connection
from django.db.models import Count, Max

from companies.models import Company, VocabularySnapshot, text_key

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
        words, spellings, names = Counter(), defaultdict(Counter), []
        for pk, name, tags, description, city in rows:
            names.append((text_key(name), pk))
            words.update(set(WORD.findall(text_key(f"{name} {tags} {description} {city}"))))
            key = text_key(city)
            if key:
                spellings[key][city] += 1
        cities = {key: names.most_common(1)[0][0] for key, names in spellings.items()}
        city_words = {tuple(WORD.findall(key)): key for key in cities}
        city_names = defaultdict(set)
        # A name's words are split again here rather than kept from the loop above: a tuple of
        # words per company would be the largest thing a build holds (docs/performance.md).
        for name in (tuple(WORD.findall(key)) for key, _ in names):
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


# Bumped whenever ``encode``'s layout changes: a stored vocabulary of another format is rebuilt.
FORMAT = 1


def encode(vocabulary):
    """``vocabulary`` as gzip-compressed JSON. The large parts (a word or a name per company)
    are newline-joined strings, which load several times faster than JSON lists of them: no
    word, stem or name key holds a newline (they are runs of word characters, or text keys,
    whose whitespace is collapsed to single spaces)."""
    data = {
        "format": FORMAT,
        "words": "\n".join(vocabulary.words),
        "uses": " ".join(map(str, vocabulary.words.values())),
        "stems": "\n".join(vocabulary.stems),
        "cities": vocabulary.cities,
        "city_names": {
            key: [list(name) for name in names] for key, names in vocabulary.city_names.items()
        },
        "names": "\n".join(name for name, _ in vocabulary.names),
        "ids": " ".join(str(pk) for _, pk in vocabulary.names),
    }
    plain = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return gzip.compress(plain, compresslevel=1, mtime=0)


def decode(gzipped):
    """The ``Vocabulary`` that ``encode`` gave ``gzipped``; ValueError if it is not one."""
    try:
        data = json.loads(gzip.decompress(gzipped))
        if data["format"] != FORMAT:
            raise ValueError(f"vocabulary format {data['format']}, not {FORMAT}")
        cities, uses, ids = data["cities"], data["uses"].split(), data["ids"].split()
        return Vocabulary(
            words=dict(zip(_lines(data["words"], uses), map(int, uses), strict=True)),
            stems=frozenset(_lines(data["stems"])),
            cities=cities,
            city_names={
                key: frozenset(map(tuple, names)) for key, names in data["city_names"].items()
            },
            city_deletions=_deletion_index(cities),
            names=tuple(zip(_lines(data["names"], ids), map(int, ids), strict=True)),
        )
    except (OSError, EOFError, TypeError, KeyError, AttributeError, ValueError) as exc:
        raise ValueError(f"not a stored vocabulary: {exc!r}") from exc


def _lines(text, values=None):
    """The lines of ``text``: none if it is empty, unless ``values`` (a line per value) says
    there is one, an empty one."""
    return text.split("\n") if text or values else []


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

    The first one is loaded (if stored at the signature of now) or built in the caller. After
    that a change is picked up by a refresh in a thread of its own (seconds at 50,000 companies),
    while searches go on with the one they have; with ``VOCABULARY_CHECK_SECONDS`` at 0 (tests)
    it is checked and refreshed in the caller.
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


def refresh():
    """The vocabulary of the companies now, built and stored unless one of the signature of now
    is stored already (after a bulk import, so that the site's processes load it instead of each
    building it)."""
    with _lock:
        _state["stale"] = True
    _refresh()
    return _state["vocabulary"]


def _refresh():
    with _lock:
        signature = _signature()
        if _state["stale"] or _state["vocabulary"] is None or signature != _state["signature"]:
            _state["stale"] = False
            _state["vocabulary"] = _stored(signature) or _build(signature)
            _state["signature"] = signature
        _state["checked"] = time.monotonic()


def _build(signature):
    """Build the vocabulary of the companies now, and store it as of ``signature``."""
    started = time.monotonic()
    rows = Company.objects.searchable().values_list("pk", "name", "tags", "description", "city")
    vocabulary = Vocabulary.build(rows.iterator(chunk_size=2000))
    fields = {
        "fingerprint": _fingerprint(signature),
        "gzipped": encode(vocabulary),
        "seconds": time.monotonic() - started,
    }
    try:  # a cache: on failure (say, a database busy with other writes) the next one builds
        VocabularySnapshot.replace(**fields)
    except DatabaseError:
        logger.warning("Could not store the search vocabulary", exc_info=True)
    return vocabulary


def _stored(signature):
    """The stored vocabulary if it was built at ``signature``, else None. Its bytes are only
    read when they are the ones wanted."""
    try:
        stored = VocabularySnapshot.objects.filter(pk=1, fingerprint=_fingerprint(signature))
        gzipped = stored.values_list("gzipped", flat=True).first()
        return None if gzipped is None else decode(bytes(gzipped))
    except (DatabaseError, ValueError):
        logger.warning("Could not load the stored search vocabulary", exc_info=True)
        return None


def _fingerprint(signature):
    rows, latest = signature
    return f"{FORMAT}:{rows}:{latest.isoformat() if latest else '-'}"


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
