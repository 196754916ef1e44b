"""A trained FAISS ``IndexIDMap2`` under string ids: adds, removals or tombstones, searches.

Where ``remove_ids`` is reliable a replaced document keeps its label and its old
vector is removed; elsewhere (HNSW, IVF) the old label is buried as a tombstone and
every search filters it out with an ``IDSelector`` (see :mod:`indexes.faiss_layout`).

Not locked itself: :class:`~indexes.VectorIndex` guards it with its readers-writer lock.
"""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np

from .backend import Hit
from .errors import InvalidInputError
from .faiss_layout import Layout
from .id_map import IdMap
from .spec import Metric, SearchParams, faiss_message


class LabelledIndex:
    """The FAISS side of one index: its ``IndexIDMap2``, layout facts and the id map."""

    def __init__(self, idmap: Any, metric: Metric, ids: IdMap | None = None) -> None:
        self.idmap = idmap
        self.layout = Layout.of(idmap)
        self.ids = ids or IdMap()
        self.sign = 1.0 if metric == "ip" else -1.0  # l2: a smaller distance is better
        self.refuses_params = False  # set once a search with a parameter object fails

    @property
    def is_trained(self) -> bool:
        return bool(self.idmap.is_trained)

    @property
    def ntotal(self) -> int:
        return int(self.idmap.ntotal)

    def counts(self) -> dict[str, Any]:
        """Live documents, stored vectors and the tombstones (dead vectors) among them."""
        ntotal, dead = self.ntotal, self.ids.tombstone_count
        return {
            "live": len(self.ids),
            "ntotal": ntotal,
            "tombstones": dead,
            "dead_vectors": dead,
            "dead_ratio": dead / ntotal if ntotal else 0.0,
        }

    def upsert(self, gone: set[str], new_ids: list[str], vectors: list[np.ndarray]) -> None:
        """Delete ``gone``, then add (or replace) ``new_ids`` with ``vectors``."""
        ids = self.ids
        replaced = [i for i in new_ids if i in ids and i not in gone]
        dropped = [i for i in gone if i in ids]
        keep_int = self.layout.removable
        old_ints = [ids.label_of(i) for i in dropped + replaced]
        if old_ints and keep_int:
            self.idmap.remove_ids(faiss.IDSelectorBatch(np.array(old_ints, dtype=np.int64)))
        elif old_ints:
            ids.bury(old_ints)
        for doc_id in dropped if keep_int else dropped + replaced:
            ids.forget(doc_id)
        if new_ids:
            labels = np.array([ids.assign(i) for i in new_ids], dtype=np.int64)
            self.idmap.add_with_ids(np.stack(vectors), labels)

    def train(self, sample: np.ndarray, name: str) -> None:
        """Train the layout on ``sample``; FAISS refusing it -> InvalidInputError."""
        try:
            self.idmap.train(sample)
        except RuntimeError as exc:
            raise InvalidInputError(
                f"index {name!r} could not train on {len(sample)} vectors: {faiss_message(exc)}"
            ) from exc

    def add_labelled(self, doc_ids: list[str], matrix: np.ndarray) -> None:
        """Add vectors of documents that already hold a label (a buffer, after training)."""
        if doc_ids:
            labels = np.array([self.ids.label_of(i) for i in doc_ids], dtype=np.int64)
            self.idmap.add_with_ids(matrix, labels)

    def search(self, matrix: np.ndarray, k: int, params: SearchParams) -> list[list[Hit]]:
        """Up to ``k`` live hits per query row, best first."""
        if self.idmap.ntotal == 0:
            return [[] for _ in range(len(matrix))]
        selector = self.ids.selector
        faiss_params = self.layout.search_parameters(
            params, selector.selector if selector is not None else None
        )
        distances, labels = self.idmap.search(matrix, k, params=faiss_params)
        return self.hits(distances, labels)

    def hits(self, distances: np.ndarray, labels: np.ndarray) -> list[list[Hit]]:
        """FAISS's result rows as live hits (higher-is-better scores), best first."""
        return [
            self._hits(row_d.tolist(), row_l.tolist())
            for row_d, row_l in zip(distances, labels, strict=True)
        ]

    def _hits(self, distances: list[float], labels: list[int]) -> list[Hit]:
        hits = []
        for dist, label in zip(distances, labels, strict=True):
            doc_id = self.ids.doc_of(label)  # drops -1 and any tombstone
            if doc_id is not None:
                hits.append(Hit(doc_id, self.sign * dist))
        return hits
