"""Splitting company texts into sentences and words, the same way everywhere."""

import re

WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def split_sentences(text):
    """The non-empty sentences of ``text``: split after . ! ? and at line breaks."""
    return [sentence.strip() for sentence in _SENTENCE_END.split(text or "") if sentence.strip()]
