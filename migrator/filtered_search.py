"""Filtered search on any index backend, exact with respect to the filter.

A backend that takes the filter itself gets it (``search_filtered``: push-down); one that
searches among given ids gets the ids the filter selects (``search_among``: FAISS's
``IDSelector``); any other is over-fetched: asked for ever more hits, doubling up to every
document it holds, keeping the allowed ones. No hit ever violates the filter, and a
selective filter still gets ``k`` hits when ``k`` documents match.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from indexes import Hit, IndexBackend, QueryVectors, SearchParams
from indexes.backend import pushes_filters_down, searches_among
from indexes.filters import Filter


@dataclass
class Selection:
    """A parsed filter and, resolved once on first use, the ids of the documents it selects."""

    where: Filter
    resolve: Callable[[Filter], frozenset[str]]
    _allowed: frozenset[str] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def allowed(self) -> frozenset[str]:
        with self._lock:
            if self._allowed is None:
                self._allowed = self.resolve(self.where)
            return self._allowed


def search_selected(
    index: IndexBackend,
    queries: QueryVectors,
    k: int,
    selection: Selection,
    params: SearchParams | None = None,
) -> list[list[Hit]]:
    """Up to ``k`` hits per query, every one selected by ``selection``."""
    if pushes_filters_down(index):
        return index.search_filtered(queries, k, selection.where, params)
    allowed = selection.allowed()
    if searches_among(index):
        return index.search_among(queries, k, allowed, params)
    return over_fetch(index, queries, k, allowed, params)


def over_fetch(
    index: IndexBackend,
    queries: QueryVectors,
    k: int,
    allowed: frozenset[str],
    params: SearchParams | None = None,
) -> list[list[Hit]]:
    """Search for 2x, 4x, ... the hits the selectivity suggests, up to every document, and
    keep the allowed ones (bounded: the last round asks for ``len(index)``)."""
    total = len(index)
    want = min(k, len(allowed))
    if want == 0 or total == 0:
        return [[] for _ in range(len(queries.vectors))]
    fetch = min(total, max(2 * k, int(2 * k * total / len(allowed))))
    while True:
        rows = [
            [h for h in row if h.id in allowed][:k] for row in index.search(queries, fetch, params)
        ]
        if fetch >= total or all(len(r) >= want for r in rows):
            return rows
        fetch = min(total, fetch * 2)
