"""Typo tolerance: misspelt query words corrected against the companies' own vocabulary.

A typed word is kept when the companies use it or a word of the same stem ("workspace" for
"workspaces"), when it is a stopword, a number, shorter than ``MIN_LENGTH``, or a whole word of
the embedding model's vocabulary (an English word the model knows as such: "couch" is not taken
for a typo of "coach"). Otherwise it becomes the nearest word by optimal string alignment
distance (Damerau-Levenshtein with a swap of neighbouring letters as one edit): within one edit
below ``TWO_EDITS_FROM`` letters and two from there, as Meilisearch allows. Candidates are the
companies' words and the model's English words ("serveers" is "servers" even if no company says
it), starting with the typed word's first letter (people rarely mistype it) or its first two
swapped; among equally near ones the word most used by the companies, then one of the same
length (a swap or a wrong key), then the most frequent English word wins. rapidfuzz compares a
word with every candidate of a possible length and first letter in C (bench/spelling.py
measures it against a SymSpell index, which costs seconds to build at each vocabulary change).
"""

import itertools
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import OSA

from .conf import search_setting
from .keywords import STOPWORDS, word_stem
from .text import WORD

MIN_LENGTH = 4
TWO_EDITS_FROM = 9
# Words of a query looked at (a long pasted text is not spell-checked word by word).
MAX_WORDS = 32


@dataclass(frozen=True)
class Correction:
    """``text``: the query with its misspelt words replaced; ``words``: (typed, corrected)."""

    text: str
    words: tuple


def max_edits(word):
    return 0 if len(word) < MIN_LENGTH else 1 if len(word) < TWO_EDITS_FROM else 2


def correct(text, vocabulary):
    """The ``Correction`` of ``text``, or None when every word stands as typed."""
    pieces, words, end = [], [], 0
    for match in itertools.islice(WORD.finditer(text), MAX_WORDS):
        typed = match.group()
        fixed = correct_word(typed.casefold(), vocabulary)
        if fixed:
            pieces += [text[end : match.start()], fixed]
            words.append((typed, fixed))
            end = match.end()
    if not words:
        return None
    return Correction("".join(pieces) + text[end:], tuple(words))


def correct_word(word, vocabulary):
    """The word ``word`` is a typo of, or None if it is a word as typed."""
    edits = max_edits(word)
    if (
        not edits
        or word in vocabulary.words
        or word in STOPWORDS
        or not word.isalpha()
        or word in model_words()
        or word_stem(word) in vocabulary.stems
        or word_stem(word) in model_stems()
    ):
        return None
    candidates = _candidates(vocabulary)
    best = None
    for length in range(len(word) - edits, len(word) + edits + 1):
        for first in {word[0], word[1]}:
            for found, distance, _ in process.extract(
                word,
                candidates.get((length, first), ()),
                scorer=OSA.distance,
                score_cutoff=edits,
                limit=None,
            ):
                if found[0] != word[0] and found[:2] != word[1::-1]:
                    continue  # people rarely mistype the first letter, unless by a swap
                uses = vocabulary.words.get(found, 0)
                rank = (
                    distance,
                    -uses,
                    len(found) != len(word),
                    model_words().get(found, 0),
                    found,
                )
                if best is None or rank < best:
                    best = rank
    return best[-1] if best else None


_candidates_of = {"vocabulary": None, "buckets": {}}


def _candidates(vocabulary):
    """(length, first letter) -> the companies' words and the model's words of that kind."""
    if _candidates_of["vocabulary"] is not vocabulary:
        buckets = {}
        for word in set(vocabulary.words) | set(model_words()):
            buckets.setdefault((len(word), word[0]), []).append(word)
        _candidates_of.update(vocabulary=vocabulary, buckets=buckets)
    return _candidates_of["buckets"]


@lru_cache(maxsize=4)
def _model_words(folder):
    from .model_files import ensure_model_files

    ensure_model_files(folder)
    vocab = json.loads((Path(folder) / "tokenizer.json").read_text())["model"]["vocab"]
    return {token: rank for token, rank in vocab.items() if token.isalpha()}


def model_words():
    """The whole words of the embedding model's tokenizer (about 22,000 English words), with
    their token ids: WordPiece numbers the more frequent words first."""
    return _model_words(str(search_setting("MODEL_DIR")))


@lru_cache(maxsize=4)
def _model_stems(folder):
    return frozenset(filter(None, map(word_stem, _model_words(folder))))


def model_stems():
    """The stems of the model's words: "tweeting" and "waiters" are English too."""
    return _model_stems(str(search_setting("MODEL_DIR")))
