"""The text embedding model: one fastembed instance per process, created on first use."""

import copy
import functools
import os
import threading

import numpy as np

from .conf import search_setting
from .lru import LRUCache
from .model_files import MODEL_NAME, ensure_model_files

# The model comes from disk; never let a library reach for the Hugging Face hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

_loaded = (None, None)  # (settings it was loaded with, model)
_model_lock = threading.Lock()


def _model_settings():
    return (
        model_name(),
        str(search_setting("MODEL_DIR")),
        search_setting("EMBEDDING_THREADS"),
    )


def get_model():
    global _loaded
    wanted = _model_settings()
    if _loaded[0] != wanted:
        with _model_lock:
            if _loaded[0] != wanted:
                _loaded = (wanted, _load_model(*wanted))
    return _loaded[1]


def _load_model(name, folder, threads):
    from fastembed import TextEmbedding

    if name == MODEL_NAME:
        ensure_model_files(folder)
    return TextEmbedding(
        name,
        specific_model_path=folder,
        local_files_only=True,
        threads=threads,
        cache_dir=os.path.join(os.path.dirname(folder), "fastembed-cache"),
    )


def model_name():
    """The model configured, by default the one the pinned package ships."""
    return search_setting("EMBEDDING_MODEL") or MODEL_NAME


def dimension():
    return get_model().embedding_size


def embed_documents(texts):
    """Vectors (lists of floats) for ``texts``, in order.

    The model sees them sorted by their number of tokens, so each of its batches (padded to its
    longest text) pads almost nothing; sorted by characters, it computed about a fifth more
    tokens than the texts hold, and was that much slower (bench/indexing.py prints both).
    """
    model = get_model()
    tokens = token_counts(model, texts)
    order = sorted(range(len(texts)), key=tokens.__getitem__)
    vectors = [None] * len(texts)
    embedded = model.embed([texts[i] for i in order], batch_size=search_setting("EMBED_BATCH_SIZE"))
    for i, vector in zip(order, embedded):
        vectors[i] = vector.tolist()
    return vectors


def token_counts(model, texts):
    """How many tokens of each of ``texts`` the model reads (its tokenizer, unpadded); their
    lengths in characters for a model whose tokenizer is not where fastembed keeps it."""
    counter = _unpadded_tokenizer(model)
    if counter is None:
        return [len(text) for text in texts]
    return [len(encoding.ids) for encoding in counter.encode_batch(list(texts))]


@functools.lru_cache(maxsize=2)
def _unpadded_tokenizer(model):
    tokenizer = getattr(getattr(model, "model", None), "tokenizer", None)
    if tokenizer is None or not hasattr(tokenizer, "no_padding"):
        return None
    tokenizer = copy.deepcopy(tokenizer)
    tokenizer.no_padding()
    return tokenizer


def normalized_mean(vectors):
    """The unit-length mean of unit vectors: the whole company from its sentences."""
    mean = np.mean(np.asarray(vectors, dtype=np.float32), axis=0)
    return (mean / np.linalg.norm(mean)).tolist()


def query_cache_key(text):
    """The query as the model reads it: the tokenizer of the shipped model (uncased BERT)
    lowercases and splits on whitespace, so case and spacing change nothing in the vector."""
    return " ".join(text.lower().split())


# Vectors of recent queries, by (model settings, normalised query): the model is fixed per
# settings, so an entry never goes stale and the bound is all that evicts.
_query_vectors = LRUCache(lambda: search_setting("QUERY_EMBEDDING_CACHE_SIZE"))


def embed_query(text):
    """The vector of a search query; repeated queries (paging, refreshes, popular searches)
    skip the model."""
    settings = _model_settings()
    key = query_cache_key(text) if settings[0] == MODEL_NAME else text
    vector = _query_vectors.get_or_compute((settings, key), lambda: _embed_query(key))
    return tuple(vector.tolist())


def _embed_query(text):
    """The model's float32 array (kept as is: a tuple of Python floats is 8 times larger)."""
    (vector,) = get_model().query_embed([text])
    return vector
