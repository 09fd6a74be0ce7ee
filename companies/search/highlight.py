"""Snippets: the sentence of a description that best matches a query, matching words marked."""

from functools import lru_cache

from django.utils.html import escape
from django.utils.safestring import mark_safe

from .keywords import word_stem
from .text import WORD, split_sentences

MAX_SNIPPET = 240


def snippet(text, query_stems, max_length=MAX_SNIPPET):
    """HTML: the best sentence of ``text`` for ``query_stems``, escaped, matches in <mark>.

    The best sentence holds the most distinct query terms; with none (a purely semantic match)
    it is the first one, which in company descriptions is the tagline.
    """
    sentences = split_sentences(text)
    if not sentences:
        return mark_safe("")
    if not query_stems:  # nothing to mark (semantic mode): the tagline, escaped
        return mark_safe(escape(_window(sentences[0], query_stems, max_length)))
    best = max(sentences, key=lambda sentence: len(_matched_stems(sentence, query_stems)))
    return mark_safe(_mark(_window(best, query_stems, max_length), query_stems))


def _matched_stems(sentence, query_stems):
    return _sentence_stems(sentence) & query_stems


@lru_cache(maxsize=8192)
def _sentence_stems(sentence):
    """The stems of a sentence's words: the same companies' sentences come up search after
    search, and stemming each word of each was most of a snippet's cost."""
    return frozenset(word_stem(m.group()) for m in WORD.finditer(sentence))


def _window(sentence, query_stems, max_length):
    """At most ``max_length`` characters of ``sentence``, from a little before its first match."""
    if len(sentence) <= max_length:
        return sentence
    words = WORD.finditer(sentence) if query_stems else ()
    first = next((m.start() for m in words if word_stem(m.group()) in query_stems), 0)
    start = max(0, first - max_length // 4)
    start = sentence.rfind(" ", 0, start) + 1 if start else 0
    end = sentence.rfind(" ", start, start + max_length)
    end = end if end > start else start + max_length
    return ("…" if start else "") + sentence[start:end].rstrip(" ,;:") + "…"


def _mark(text, query_stems):
    parts, position = [], 0
    for match in WORD.finditer(text):
        if word_stem(match.group()) in query_stems:
            parts.append(escape(text[position : match.start()]))
            parts.append(f"<mark>{escape(match.group())}</mark>")
            position = match.end()
    parts.append(escape(text[position:]))
    return "".join(parts)
