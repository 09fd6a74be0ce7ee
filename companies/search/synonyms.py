"""Editors' synonym groups, applied to the keyword part of a search at query time.

A query containing a term of a group (as whole words, after ``query_key`` normalisation) also
looks for the group's other terms: their keyword terms join the query's, so no company needs to
be indexed again. Meaning-based scoring is left alone (the embedding already relates synonyms).
Read from the database on every search, so a change applies at once in every process.
"""

from companies.models import SynonymGroup, query_key, synonym_terms

from . import sql


def expanded(query):
    """``query`` followed by the synonyms of the terms it contains (unchanged if none)."""
    key = f" {query_key(query)} "
    extra = []
    for (group,) in sql.rows("synonym groups", _groups):
        terms = synonym_terms(group)
        if any(f" {term} " in key for term in terms):
            extra.extend(term for term in terms if f" {term} " not in key and term not in extra)
    return " ".join([query, *extra]) if extra else query


def _groups():
    return SynonymGroup.objects.values_list("terms")
