"""Keyword search: BM25 sparse vectors (fastembed's Bm25, offline) and the terms behind them.

Bm25 normally downloads its stopword list; given the list inline and an existing folder it needs
nothing from the network (the Snowball stemmer comes from the installed py-rust-stemmers).
Qdrant applies the IDF part (the collection's sparse vector has ``modifier=IDF``), so document
vectors carry only the saturated term frequencies.
"""

import tempfile
import threading
from functools import lru_cache

from py_rust_stemmers import SnowballStemmer

from .conf import search_setting
from .text import WORD

# The English stopword list of NLTK (the one fastembed would download).
STOPWORDS = frozenset(
    """
a about above after again against ain all am an and any are aren aren't as at be because been
before being below between both but by can couldn couldn't d did didn didn't do does doesn
doesn't doing don don't down during each few for from further had hadn hadn't has hasn hasn't
have haven haven't having he her here hers herself him himself his how i if in into is isn isn't
it it's its itself just ll m ma me mightn mightn't more most mustn mustn't my myself needn
needn't no nor not now o of off on once only or other our ours ourselves out over own re s same
shan shan't she she's should should've shouldn shouldn't so some such t than that that'll the
their theirs them themselves then there these they this those through to too under until up ve
very was wasn wasn't we were weren weren't what when where which while who whom why will with
won won't wouldn wouldn't y you you'd you'll you're you've your yours yourself yourselves
""".split()
)

_stemmer = SnowballStemmer("english")
# BM25 term-frequency saturation and length normalisation (the usual values).
K1 = 1.2
B = 0.75
_loaded = (None, None)  # (average length it was made with, model)
_model_lock = threading.Lock()


def bm25_model():
    global _loaded
    avg_len = search_setting("BM25_AVG_LEN")
    if _loaded[0] != avg_len:
        with _model_lock:
            if _loaded[0] != avg_len:
                from fastembed.sparse.bm25 import Bm25

                _loaded = (
                    avg_len,
                    Bm25(
                        "Qdrant/bm25",
                        specific_model_path=tempfile.gettempdir(),
                        local_files_only=True,
                        stopwords=set(STOPWORDS),
                        k=K1,
                        b=B,
                        avg_len=avg_len,
                    ),
                )
    return _loaded[1]


def recipe():
    """What shapes the document vectors; a change makes every stored point stale.

    Read from the settings, not the model, so start-up checks need not load it.
    """
    return f"bm25 k={K1} b={B} avg_len={search_setting('BM25_AVG_LEN')}"


def document_vectors(texts):
    """``(indices, values)`` per text: the BM25 term-frequency part of each document."""
    return [
        (vector.indices.tolist(), vector.values.tolist())
        for vector in bm25_model().embed(list(texts))
    ]


@lru_cache(maxsize=1024)
def query_terms(text):
    """The term ids of a query (each weighs 1; the store multiplies by IDF).

    They depend only on the stemmer and stopwords, never on the BM25 parameters.
    """
    (vector,) = bm25_model().query_embed(text)
    return tuple(sorted(vector.indices.tolist()))


def required_terms(requirements):
    """``synonyms.requirements`` as term ids."""
    return tokenised(requirements, query_terms)


def tokenised(requirements, tokens):
    """``synonyms.requirements`` with each phrase as ``tokens(phrase)`` gives it (a tuple; a
    company meets a phrase by holding all its tokens), as each search path matches words.

    A requirement whose typed words (its first phrase) have no tokens, stopwords alone, asks
    nothing and is left out, and so is a repeated one ("team teams"); a phrase of stopwords
    alone meets nothing, so it is no alternative ("it" for "information technology").
    """
    required = []
    for phrases in requirements:
        if not tokens(phrases[0]):
            continue
        options = tuple(dict.fromkeys(found for found in map(tokens, phrases) if found))
        if options not in required:
            required.append(options)
    return tuple(required)


def stems(text):
    """The stems of the words of ``text`` that count for keyword search, for highlighting."""
    return {stem for match in WORD.finditer(text) if (stem := word_stem(match.group()))}


@lru_cache(maxsize=100_000)
def word_stem(word):
    """The stem of one word (None for a stopword); cached, as snippets stem the same words often."""
    word = word.lower()
    return None if word in STOPWORDS else _stemmer.stem_word(word)
