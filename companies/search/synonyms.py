"""Editors' synonym groups, applied to the keyword part of a search at query time.

A query containing a term of a group (as whole words, after ``query_key`` normalisation) also
looks for the group's other terms: their keyword terms join the query's, so no company needs to
be indexed again, and any term of the group meets what the query requires of those words
(``requirements``). Meaning-based scoring is left alone (the embedding already relates
synonyms). Read from the database on every search, so a change applies at once in every process.
"""

from companies.models import SynonymGroup, query_key, synonym_terms

from . import sql


def expanded(query):
    """``query`` followed by the synonyms of the terms it contains (unchanged if none)."""
    words, applying = _applying(query)
    key = f" {' '.join(words)} "
    extra = []
    for terms, _ in applying:
        extra.extend(term for term in terms if f" {term} " not in key and term not in extra)
    return " ".join([query, *extra]) if extra else query


def requirements(query):
    """What a company must contain to match ``query`` by keywords, as a tuple of requirements,
    each a tuple of phrases of which one must be there: each word of the query, or, for the
    words a synonym group's term covers, any term of that group. The first phrase of each is
    the query's own words, so a requirement can tell what was typed from what stands for it."""
    words, applying = _applying(query)
    covered = set().union(*(positions for _, positions in applying))
    alone = [(word,) for at, word in enumerate(words) if at not in covered]
    grouped = [
        tuple(dict.fromkeys([" ".join(words[at] for at in sorted(positions)), *terms]))
        for terms, positions in applying
    ]
    return tuple(alone + grouped)


def _applying(query):
    """``(the query's words, [(terms, positions of the words they cover)])`` of the synonym
    groups that apply: those with a term found in the query as whole words."""
    words = query_key(query).split()
    applying = []
    for (group,) in sql.rows("synonym groups", _groups):
        terms = synonym_terms(group)
        positions = set()
        for term in terms:
            parts = term.split()
            for start in range(len(words) - len(parts) + 1):
                if words[start : start + len(parts)] == parts:
                    positions.update(range(start, start + len(parts)))
        if positions:
            applying.append((terms, positions))
    return words, applying


def _groups():
    return SynonymGroup.objects.values_list("terms")
