"""The buffer of an untrained index: vectors held until the layout can be trained.

IVF and PQ layouts cannot ``add`` before training, and training needs a sample of
real vectors. Rather than refuse writes until then, the index keeps them here and
answers searches by exact brute force, which is cheap at buffer sizes (hundreds to
a few thousand vectors).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from .id_map import IdMap
from .spec import Metric


class PendingBuffer:
    """Vectors by document id, in arrival order, with exact search over them.

    Not locked itself: the owning index guards it with its readers-writer lock.
    """

    def __init__(self, dim: int, metric: Metric) -> None:
        self._dim = dim
        self._metric = metric
        self._vectors: dict[str, np.ndarray] = {}
        self._rows: tuple[list[str], np.ndarray] | None = None  # stacked lazily, once

    def take(
        self, ids: IdMap, gone: set[str], new_ids: list[str], vectors: list[np.ndarray]
    ) -> None:
        """Deletes, then upserts, keeping the index's id map in step with the buffer."""
        for doc_id in [i for i in gone if i in ids]:
            ids.forget(doc_id)
            self.drop(doc_id)
        for doc_id, vec in zip(new_ids, vectors, strict=True):
            ids.assign(doc_id)
            self.put(doc_id, vec)

    def __len__(self) -> int:
        return len(self._vectors)

    def put(self, doc_id: str, vector: np.ndarray) -> None:
        self._vectors[doc_id] = vector
        self._rows = None

    def drop(self, doc_id: str) -> None:
        del self._vectors[doc_id]
        self._rows = None

    def clear(self) -> None:
        self._vectors.clear()
        self._rows = None

    def copy(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self._vectors.items()}

    def rows(self) -> tuple[list[str], np.ndarray]:
        """Ids and their vectors stacked as a ``(n, dim)`` matrix, in arrival order."""
        rows = self._rows
        if rows is None:  # concurrent readers may both stack: same result, no harm
            ids = list(self._vectors)
            matrix = (
                np.stack([self._vectors[i] for i in ids])
                if ids
                else np.zeros((0, self._dim), dtype=np.float32)
            )
            rows = self._rows = (ids, matrix)
        return rows

    def search(
        self, queries: np.ndarray, k: int, allowed: Collection[str] | None = None
    ) -> list[list[tuple[str, float]]]:
        """Exact top-``k`` (id, score) per query, among ``allowed`` when given; score is
        higher-is-better (``-L2²`` for l2)."""
        ids, vectors = self.rows()
        if allowed is not None:
            keep = [i for i, doc_id in enumerate(ids) if doc_id in allowed]
            ids, vectors = [ids[i] for i in keep], vectors[keep]
        if not ids:
            return [[] for _ in range(len(queries))]
        scores = queries @ vectors.T
        if self._metric == "l2":
            scores = -((queries**2).sum(1)[:, None] - 2 * scores + (vectors**2).sum(1)[None, :])
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return [
            [(ids[j], float(row[j])) for j in best] for best, row in zip(top, scores, strict=True)
        ]
