"""Search among allowed labels only, on any FAISS layout, never returning fewer than it can.

A filter that keeps at least 5% of the documents (:data:`OVER_FETCH_SHARE`) is
first over-fetched, boundedly (:func:`over_fetch_ids`: two rounds, at most
``8 k / share`` hits): the plain search is cheapest there, and building a selector of
tens of thousands of labels is not. When that comes back short, or for a more selective
filter, an ``IDSelectorBatch`` of the allowed labels rides in the search parameters, so
FAISS skips every other vector while it searches (measured against bounded over-fetch in
``benchmarks/filtered_search.py``: the README's Performance section has the numbers).
Approximate layouts can come back short under a selective filter (HNSW's graph walk
reaches few allowed vectors, IVF probes few lists); then, in order: an IVF searches every
list; a layout that can reconstruct its vectors is searched exactly over the allowed ones
(what Qdrant and Weaviate do below a cardinality threshold); anything else over-fetches
without a selector, doubling up to every stored vector. A layout that refuses parameter
objects (IndexPQ, SQ, pre-transforms) goes straight to those fallbacks.

Not locked itself: :class:`~indexes.VectorIndex` calls it under its read lock.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import faiss
import numpy as np

from .backend import Hit
from .labelled import LabelledIndex
from .spec import SearchParams

OVER_FETCH_SHARE = 0.05  # measured: benchmarks/results/filtered_search.md


def search_allowed(
    index: LabelledIndex,
    matrix: np.ndarray,
    k: int,
    allowed: Collection[str],
    params: SearchParams,
) -> list[list[Hit]]:
    """Up to ``k`` live hits per query among the ``allowed`` ids: a bounded over-fetch when
    they are at least ``OVER_FETCH_SHARE`` of the index, else (or when that comes back
    short) a search restricted to their labels."""
    ids = index.ids
    share = len(allowed) / max(1, len(ids))
    if share >= OVER_FETCH_SHARE:
        rows = over_fetch_ids(index, matrix, k, allowed, params, share)
        if rows is not None:
            return rows
    labels = np.fromiter((ids.label_of(i) for i in allowed if i in ids), dtype=np.int64)
    return search_among(index, matrix, k, labels, params)


def over_fetch_ids(
    index: LabelledIndex,
    matrix: np.ndarray,
    k: int,
    allowed: Collection[str],
    params: SearchParams,
    share: float,
) -> list[list[Hit]] | None:
    """The top ``k`` allowed hits from a plain search of ``2 k / share`` hits, then of four
    times that; None when even that comes back short (the caller uses the selector)."""
    want = min(k, len(allowed))
    fetch = min(index.ntotal, max(2 * k, int(2 * k / share)))
    for _ in range(2):
        found = index.search(matrix, fetch, params)
        rows = [[h for h in row if h.id in allowed][:k] for row in found]
        if all(len(r) >= want for r in rows):
            return rows
        if fetch >= index.ntotal:
            return None
        fetch = min(index.ntotal, fetch * 4)
    return None


def search_among(
    index: LabelledIndex, matrix: np.ndarray, k: int, labels: np.ndarray, params: SearchParams
) -> list[list[Hit]]:
    """Up to ``k`` hits per query among ``labels`` (live labels, int64), best first."""
    want = min(k, len(labels))
    if want == 0 or index.ntotal == 0:
        return [[] for _ in range(len(matrix))]
    rows = _with_selector(index, matrix, k, labels, params)
    if rows is not None and all(len(r) >= want for r in rows):
        return rows
    if rows is not None and index.layout.ivf is not None:
        wide = SearchParams(ef_search=params.ef_search, nprobe=int(index.layout.ivf.nlist))
        rows = _with_selector(index, matrix, k, labels, wide)
        if rows is not None and all(len(r) >= want for r in rows):
            return rows
    exact = _exact(index, matrix, k, labels)
    return exact if exact is not None else _over_fetch(index, matrix, k, labels, want)


def _with_selector(
    index: LabelledIndex, matrix: np.ndarray, k: int, labels: np.ndarray, params: SearchParams
) -> list[list[Hit]] | None:
    """The selector search, or None when the layout refuses a parameter object."""
    if index.refuses_params:
        return None
    batch = faiss.IDSelectorBatch(labels)
    faiss_params: Any = index.layout.search_parameters(params, batch)
    try:
        distances, found = index.idmap.search(matrix, k, params=faiss_params)
    except RuntimeError:  # the layout takes no parameter object: never try it again
        index.refuses_params = True
        return None
    return index.hits(distances, found)


def _exact(
    index: LabelledIndex, matrix: np.ndarray, k: int, labels: np.ndarray
) -> list[list[Hit]] | None:
    """Exact scores over the allowed vectors, or None when the layout cannot reconstruct."""
    try:
        vectors = index.idmap.reconstruct_batch(labels)
    except RuntimeError:
        return None
    scores = matrix @ vectors.T
    if index.sign < 0:  # l2: FAISS's distance is the squared one
        scores = -((matrix**2).sum(1)[:, None] - 2 * scores + (vectors**2).sum(1)[None, :])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return index.hits(index.sign * np.take_along_axis(scores, top, 1), labels[top])


def _over_fetch(
    index: LabelledIndex, matrix: np.ndarray, k: int, labels: np.ndarray, want: int
) -> list[list[Hit]]:
    """Search without a selector for ever more hits, keep the allowed ones (bounded by
    the stored vectors: the last round asks for all of them)."""
    fetch = min(index.ntotal, max(2 * k, 64))
    while True:
        distances, found = index.idmap.search(matrix, fetch, params=None)
        keep = np.isin(found, labels)
        rows = [
            index.hits(d[m][None, :k], f[m][None, :k])[0]
            for d, f, m in zip(distances, found, keep, strict=True)
        ]
        if fetch >= index.ntotal or all(len(r) >= want for r in rows):
            return rows
        fetch = min(index.ntotal, fetch * 4)
