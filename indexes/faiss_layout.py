"""What the wrapper must know about a FAISS layout, worked out once per index.

Layouts differ in ways the wrapper has to respect:

* ``remove_ids`` raises on HNSW. On IVF it "works" under ``IndexIDMap2`` but the
  IVF lists keep their original internal positions while the id map is compacted,
  so later searches return the wrong ids (reproduced on faiss 1.15). Both therefore
  delete by tombstone, filtered at search time with an ``IDSelector``.
* Search knobs travel in per-call parameter objects (``SearchParametersHNSW`` /
  ``SearchParametersIVF``), so concurrent searches with different knobs never touch
  shared index state. Some layouts (``IndexPQ``) refuse any parameter object; they
  all support ``remove_ids``, so they never need a selector and get none.
* IVF and PQ layouts must be trained before ``add``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np

from .spec import IndexSpec, SearchParams, faiss_metric

DEFAULT_AUTO_TRAIN_SIZE = 1000
POINTS_PER_CENTROID = 39  # FAISS's own lower bound before it warns about clustering


def new_idmap(spec: IndexSpec, dim: int) -> Any:
    """An empty ``IndexIDMap2`` over ``spec.factory`` (the spec is validated first)."""
    spec.validate(dim)
    base = faiss.index_factory(dim, spec.factory, faiss_metric(spec.metric))
    return faiss.IndexIDMap2(base)


@dataclass(frozen=True, eq=False)
class Layout:
    """Capabilities of one ``IndexIDMap2`` and handles on its tunable parts."""

    removable: bool  # remove_ids keeps ids correct
    hnsw: Any | None  # the IndexHNSW inside, for its default efSearch
    ivf: Any | None  # the IndexIVF inside, for nlist and its default nprobe
    auto_train_size: int  # buffered vectors that trigger training

    @classmethod
    def of(cls, idmap: Any) -> Layout:
        nested = list(_nested(idmap.index))
        hnsw = next((x for x in nested if isinstance(x, faiss.IndexHNSW)), None)
        ivf = faiss.try_extract_index_ivf(idmap.index)
        pq = next((x.pq for x in nested if hasattr(x, "pq")), None)
        if ivf is not None:
            ivf_pq = getattr(faiss.downcast_index(ivf), "pq", None)
            pq = ivf_pq if ivf_pq is not None else pq
        train_size = (
            POINTS_PER_CENTROID * int(ivf.nlist) if ivf is not None else DEFAULT_AUTO_TRAIN_SIZE
        )
        if pq is not None:  # PQ training fails outright below one point per centroid
            train_size = max(train_size, int(pq.ksub))
        return cls(_removable(idmap, ivf), hnsw, ivf, train_size)

    def search_parameters(self, params: SearchParams, selector: Any | None) -> Any | None:
        """A FAISS parameter object for one search, or None when defaults suffice."""
        if self.hnsw is not None:
            out = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # absent from 1.15 stubs
            out.efSearch = params.ef_search or int(self.hnsw.hnsw.efSearch)
        elif self.ivf is not None:
            out = faiss.SearchParametersIVF()
            out.nprobe = params.nprobe or int(self.ivf.nprobe)
        elif selector is None:
            return None
        else:
            out = faiss.SearchParameters()
        if selector is not None:
            out.sel = selector
        return out


def _nested(index: Any) -> Iterator[Any]:
    """``index`` and the indexes it wraps (pre-transform, refine, HNSW storage)."""
    current: Any = faiss.downcast_index(index)
    while current is not None:
        yield current
        inner = None
        for attr in ("index", "base_index", "storage"):
            inner = getattr(current, attr, None)
            if inner is not None:
                break
        current = faiss.downcast_index(inner) if inner is not None else None


def _removable(idmap: Any, ivf: Any | None) -> bool:
    if ivf is not None:
        return False  # see the module docstring: ids would be garbled
    try:
        idmap.remove_ids(faiss.IDSelectorBatch(np.empty(0, dtype=np.int64)))
    except RuntimeError:
        return False
    return True


@dataclass(eq=False)
class TombstoneSelector:
    """An ``IDSelectorNot(IDSelectorBatch(tombstones))`` kept alive as a pair.

    SWIG does not tie the inner selector's lifetime to the outer one, so the batch
    is held here for as long as the ``Not`` selector may be used by a search.
    """

    batch: Any
    selector: Any

    @classmethod
    def of(cls, tombstones: set[int]) -> TombstoneSelector | None:
        if not tombstones:
            return None
        batch = faiss.IDSelectorBatch(np.fromiter(tombstones, dtype=np.int64))
        return cls(batch, faiss.IDSelectorNot(batch))
