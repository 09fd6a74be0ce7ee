"""Engine-neutral query plans: what a store is asked, built once for every engine.

A plan is plain data (prefetch tree, fusion formula terms, filter conditions, facet and count
requests); each engine module only translates it into its own client's objects and runs it, so
the ranking recipe, the filters and the fusion formula have one home.
"""

from dataclasses import dataclass, field

DENSE = "dense"
SENTENCES = "sentences"
SPARSE = "keywords"
# What a ranking returns of each point's payload.
RANKED_PAYLOAD = ("city", "city_name")
# Payload fields with an index: filters and facets run on them.
KEYWORD_FIELDS = ("city", "city_name", "name_key")
# Only ever matched by value, so their index is a lookup table without the range index, which
# is built in memory each time a store opens and took most of the opening time at scale
# (docs/performance.md).
INTEGER_FIELDS = ("terms",)


@dataclass(frozen=True)
class Fusion:
    """How a query's scores are combined (tuned with bench/quality.py).

    Semantic score: ``(1 - sentence_weight)`` * cosine to the whole company + ``sentence_weight``
    * cosine to its best-matching sentence. Hybrid adds ``keyword_weight`` * bm25 /
    (bm25 + ``keyword_saturation``): a bounded boost for shared words, so the score keeps how
    similar a result is, not just its rank. A company whose name is the query gets ``name_boost``.
    ``method="rrf"`` / ``"dbsf"`` use Qdrant's rank fusions instead (compared in the benchmark).
    """

    method: str = "formula"
    sentence_weight: float = 0.8
    keyword_weight: float = 0.15
    keyword_saturation: float = 8.0
    name_boost: float = 1.0


@dataclass(frozen=True)
class RankRequest:
    """One ranking: by meaning (``dense``), by keywords (``terms``), or both (hybrid).

    Candidates come from the whole-company vectors and from the keyword index, ``candidates`` of
    each, with the filters applied inside those searches; they are then scored by the fused
    formula. ``score_threshold`` applies to the fused score.
    """

    dense: tuple = None
    terms: tuple = None
    name_key: str = None
    cities: tuple = ()
    limit: int = 10
    candidates: int = 100
    score_threshold: float = None
    fusion: Fusion = Fusion()
    exact: bool = False  # candidates by exact search (the reference recall is measured against)
    # What every point ranked must contain (``Filter.required``): by keywords alone, what the
    # query's words require (``keywords.required_terms``).
    required: tuple = None


# Plans ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """Points in any of ``cities`` (if given) that meet every requirement of ``required`` (if
    given: an empty tuple matches nothing), other than ``exclude_ids``.

    A requirement is a tuple of alternatives, one of which the point must hold; an alternative,
    a tuple of keyword term ids, all of which it must hold: "ev charging" with the synonyms
    "ev, electric vehicle" is ``(((ev,), (electric, vehicl)), ((charg,),))``.
    """

    cities: tuple = ()
    required: tuple = None
    exclude_ids: tuple = ()

    def __bool__(self):
        return bool(self.cities or self.required is not None or self.exclude_ids)


@dataclass(frozen=True)
class HasTerm:
    """A filter condition: the point holds keyword term ``term``."""

    term: int


@dataclass(frozen=True)
class AllOf:
    conditions: tuple


@dataclass(frozen=True)
class AnyOf:
    """At least one of ``conditions``: none at all matches nothing."""

    conditions: tuple


def required_conditions(required):
    """A ``Filter.required`` as conditions that must all hold: ``HasTerm``, ``AllOf`` and
    ``AnyOf``, which each engine writes in its own filter objects."""

    def all_of(terms):
        return HasTerm(terms[0]) if len(terms) == 1 else AllOf(tuple(map(HasTerm, terms)))

    def any_of(alternatives):
        options = tuple(all_of(terms) for terms in alternatives)
        return options[0] if len(options) == 1 else AnyOf(options)

    return [any_of(alternatives) for alternatives in required] if required else [AnyOf(())]


@dataclass(frozen=True)
class Nearest:
    """Score by similarity to ``vector`` in the named vector ``using``. A sparse vector is a
    ``(indices, values)`` pair; a multivector a list of vectors."""

    using: str
    vector: object
    exact: bool = False  # every point scored with the original vectors (no graph, no int8)


@dataclass(frozen=True)
class Prefetch:
    query: Nearest
    limit: int
    filter: Filter = None
    prefetches: tuple = ()


@dataclass(frozen=True)
class ScoreTerm:
    """``weight`` * the score of prefetch ``index``; with ``saturation`` s, weight * x / (x + s)."""

    index: int
    weight: float
    saturation: float = None


@dataclass(frozen=True)
class MatchTerm:
    """``weight`` if the payload ``key`` equals ``value``, else 0."""

    key: str
    value: str
    weight: float


@dataclass(frozen=True)
class Formula:
    """The sum of ``terms`` over ``parts`` prefetches (a missing score counts 0)."""

    terms: tuple
    parts: int


@dataclass(frozen=True)
class RankFusion:
    method: str  # "rrf" or "dbsf"


@dataclass(frozen=True)
class QueryPlan:
    query: object  # Nearest, Formula or RankFusion
    limit: int
    prefetches: tuple = ()
    filter: Filter = None
    score_threshold: float = None
    with_payload: tuple = RANKED_PAYLOAD


@dataclass(frozen=True)
class FacetPlan:
    key: str
    filter: Filter = None
    limit: int = 100


@dataclass(frozen=True)
class CountPlan:
    filter: Filter = field(default_factory=Filter)


def sparse_query(terms):
    """A query's keyword terms as a sparse vector (each counted once; the index weighs them)."""
    return (list(terms), [1.0] * len(terms))


def rank_plan(request):
    """The plan for a ``RankRequest``.

    Keywords alone: the sparse nearest neighbours. Otherwise the candidates (the nearest by the
    whole-company vector, and by keywords if any) are each scored by the whole-company vector,
    the best sentence and (hybrid) the keywords, and those scores fused (``fusion_query``).
    """
    query_filter = Filter(cities=request.cities, required=request.required) or None
    sparse = Nearest(SPARSE, sparse_query(request.terms)) if request.terms else None
    if request.dense is None:
        return QueryPlan(query=sparse, limit=request.limit, filter=query_filter)
    dense = list(request.dense)
    sources = [Nearest(DENSE, dense, exact=request.exact)] + ([sparse] if sparse else [])
    candidates = tuple(
        Prefetch(query=source, limit=request.candidates, filter=query_filter) for source in sources
    )
    pool = request.candidates * len(candidates)
    scorers = [Nearest(DENSE, dense), Nearest(SENTENCES, [dense])] + ([sparse] if sparse else [])
    return QueryPlan(
        query=fusion_query(request, len(scorers)),
        limit=request.limit,
        prefetches=tuple(
            Prefetch(query=scorer, limit=pool, prefetches=candidates) for scorer in scorers
        ),
        filter=query_filter,
        score_threshold=request.score_threshold,
    )


def fusion_query(request, parts):
    """The fused score of the scoring prefetches: dense, sentences and (if 3 parts) keywords."""
    fusion = request.fusion
    if fusion.method in ("rrf", "dbsf"):
        return RankFusion(fusion.method)
    terms = [
        ScoreTerm(0, 1 - fusion.sentence_weight),
        ScoreTerm(1, fusion.sentence_weight),
    ]
    if parts == 3:
        terms.append(ScoreTerm(2, fusion.keyword_weight, saturation=fusion.keyword_saturation))
    if request.name_key:
        terms.append(MatchTerm("name_key", request.name_key, fusion.name_boost))
    return Formula(tuple(terms), parts)


def nearest_plan(vector, *, exclude_id, cities=(), limit):
    """The points nearest to ``vector`` by the whole-company vector, ``exclude_id`` left out."""
    return QueryPlan(
        query=Nearest(DENSE, list(vector)),
        limit=limit,
        filter=Filter(cities=tuple(cities), exclude_ids=(exclude_id,)),
    )
