"""How a generation stores its vectors and how its searches read them, whatever the engine.

Read from the settings when a store opens; each engine translates the same ``VectorStorage``
into its own collection config (when a generation is created: a first index or
``search_index --rebuild``) and into its own search parameters (on every query).

- ``quantization="int8"``: the whole-company vectors also get an int8 copy, kept in memory,
  which the HNSW search walks; the best ``oversampling`` x limit candidates are then rescored
  with the original float vectors.
- ``on_disk``: the original float vectors (whole-company and sentences) stay in their files,
  memory-mapped, read on demand; with int8 in memory only rescoring reads them.
- ``datatype="float16"``: the original vectors (whole-company and sentences) are stored at half
  precision: half the files, and half the memory they take when mapped or loaded. Cosines are
  then a few hundred-thousandths off the float32 ones; the int8 walk finds a little less,
  which a larger ``oversampling`` makes up for (bench/vector_precision.py).
- ``hnsw_ef``: how many candidates the graph search keeps (more: better recall, slower).

bench/store_scale.py measures what each costs and gains (docs/performance.md).
"""

from dataclasses import dataclass

from .conf import search_setting
from .plan import DENSE, Nearest

QUANTIZATIONS = ("int8", "none")
DATATYPES = ("float32", "float16")


@dataclass(frozen=True)
class VectorStorage:
    quantization: str = "int8"
    on_disk: bool = True
    hnsw_ef: int = None  # None: the engine's default
    oversampling: float = 4.0
    datatype: str = "float16"
    # Below this size (KiB of vectors) a segment is searched as it is, without graph or int8
    # copy; None: the engine's default. Only lowered to build them on a few points (tests).
    indexing_threshold_kb: int = None

    @property
    def quantized(self):
        return self.quantization == "int8"

    @property
    def half_precision(self):
        return self.datatype == "float16"


def vector_storage():
    """The ``VectorStorage`` the settings ask for."""
    return VectorStorage(
        quantization=search_setting("QUANTIZATION"),
        on_disk=search_setting("VECTORS_ON_DISK"),
        hnsw_ef=search_setting("HNSW_EF"),
        oversampling=search_setting("QUANTIZATION_OVERSAMPLING"),
        datatype=search_setting("VECTOR_DATATYPE"),
    )


@dataclass(frozen=True)
class SearchParams:
    """What a whole-company vector search asks of the engine (each engine spells it)."""

    exact: bool = False  # every point scored, with the float vectors (no graph, no int8)
    hnsw_ef: int = None
    # Keyword arguments of the engine's quantization search parameters, or None.
    quantization: tuple = None


def search_params(query, storage):
    """The ``SearchParams`` of a plan node whose query is ``query``, or None when it is not a
    whole-company vector search (the only one with a graph and an int8 copy)."""
    if not (isinstance(query, Nearest) and query.using == DENSE):
        return None
    if query.exact:
        return SearchParams(exact=True, quantization=(("ignore", True),))
    rescore = (("rescore", True), ("oversampling", storage.oversampling))
    return SearchParams(
        hnsw_ef=storage.hnsw_ef, quantization=rescore if storage.quantized else None
    )
