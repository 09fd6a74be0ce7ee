"""Naming clusters of companies by their distinctive market words (class-based TF-IDF).

A word describes a cluster when many of its companies use it and few companies elsewhere do:
the share of the cluster's companies using it, times the log of how much rarer it is overall
(c-TF-IDF, as BERTopic names topics). Each company counts a word once, so one long description
cannot name a cluster. Words are compared by stem and shown in their most frequent spelling.
"""

import math
from collections import Counter, defaultdict

from .keywords import word_stem
from .text import WORD

# Words every company file uses, which name nothing: the import keeps logo captions as markets.
GENERIC = frozenset(
    """
logo company companies startup startups platform app apps service services business businesses
online world people new best help helps make makes way ways inc ltd llc co use using based one
get first free also provide provides provider solution solutions help simple easy
""".split()
)
LABEL_WORDS = 3


def company_words(text):
    """``{stem: spelling}`` of the words of ``text`` that can name a market."""
    words = {}
    for match in WORD.finditer(text or ""):
        word = match.group().lower()
        if len(word) < 3 or not word.isalpha() or word in GENERIC:
            continue
        stem = word_stem(word)
        if stem and stem not in GENERIC:
            words.setdefault(stem, word)
    return words


def cluster_labels(texts, clusters, count=LABEL_WORDS):
    """``{cluster: "word · word · word"}`` for companies' ``texts`` in ``clusters`` (parallel)."""
    in_cluster = defaultdict(Counter)
    spellings = defaultdict(Counter)
    overall = Counter()
    sizes = Counter(clusters)
    for text, cluster in zip(texts, clusters):
        words = company_words(text)
        in_cluster[cluster].update(words.keys())
        overall.update(words.keys())
        for stem, word in words.items():
            spellings[stem][word] += 1
    average = sum(overall.values()) / max(len(sizes), 1)
    labels = {}
    for cluster, counts in in_cluster.items():
        scored = sorted(
            counts.items(),
            key=lambda item: (
                -(item[1] / sizes[cluster]) * math.log(1 + average / overall[item[0]]),
                item[0],
            ),
        )
        chosen = [spellings[stem].most_common(1)[0][0] for stem, n in scored[:count] if n > 1]
        labels[cluster] = " · ".join(
            chosen or [spellings[s].most_common(1)[0][0] for s, _ in scored[:1]]
        )
    return {cluster: labels.get(cluster, "") or f"Group {cluster}" for cluster in sizes}
