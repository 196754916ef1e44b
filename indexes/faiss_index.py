"""The FAISS wrapper: string ids, write-log sequencing, deletes, safe concurrent search.

One :class:`VectorIndex` is one index version's derived state. Every change arrives
through :meth:`VectorIndex.apply` tagged with the write-log sequence it comes from;
an already-applied sequence is ignored, so replaying the log after a snapshot is
idempotent. Searches run concurrently under a shared lock, mutations and exports
alone under an exclusive one.

Ids: string document ids map to int64 ids assigned sequentially (:mod:`indexes.id_map`).
Where ``remove_ids`` is reliable a replaced document keeps its int; elsewhere (HNSW,
IVF) the old int becomes a tombstone (a dead vector), excluded from searches with an
``IDSelector`` (:mod:`indexes.labelled`); ``stats()`` counts them and
``rebuild_needed`` says when a rebuild, a layout-only migration to the same spec that
copies only the live documents, is worth it.

Untrained layouts (IVF, PQ) cannot ``add`` yet, so vectors are buffered and
searched exactly with numpy until ``auto_train_size`` vectors have arrived; then the
index trains on the buffer and takes it in. Writes are never refused for want of
training.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

import faiss
import numpy as np

from ._checks import as_matrix, as_vector, check_int, check_str, checked_queries, checked_upserts
from .allowlist import search_allowed
from .backend import Hit
from .embedder_spec import QueryVectors
from .errors import InvalidInputError
from .faiss_layout import new_idmap
from .faiss_threads import in_this_thread
from .id_map import IdMap
from .index_state import IndexState, check_state, deserialize_idmap, stream_idmap
from .labelled import LabelledIndex
from .pending import PendingBuffer
from .rwlock import RWLock
from .spec import IndexSpec, SearchParams

__all__ = ["VectorIndex"]

log = logging.getLogger(__name__)

REBUILD_TOMBSTONE_RATIO = 0.2


class VectorIndex:
    """An ``IndexIDMap2`` over a FAISS factory layout, fed from the write log."""

    persists_itself = False  # in memory: snapshots save its export_state()

    def __init__(
        self,
        spec: IndexSpec,
        dim: int,
        fingerprint: str,
        search_params: SearchParams | None = None,
        *,
        auto_train_size: int | None = None,
        idmap: Any = None,
    ) -> None:
        """A new empty index, or (``idmap``: a restored ``IndexIDMap2``) one from a snapshot."""
        check_str(fingerprint, "fingerprint", allow_empty=False)
        self.spec = spec
        self.dim = dim
        self.fingerprint = fingerprint
        self._faiss = LabelledIndex(new_idmap(spec, dim) if idmap is None else idmap, spec.metric)
        if auto_train_size is not None:
            check_int(auto_train_size, "auto_train_size", 1)
        self.auto_train_size = auto_train_size or self._faiss.layout.auto_train_size
        self._search_params = search_params or SearchParams()
        self._lock = RWLock()
        self._applied_seq = 0
        self._pending = PendingBuffer(dim, spec.metric)

    # -- reading -------------------------------------------------------------------

    @property
    def applied_seq(self) -> int:
        """The last write-log sequence applied (0 for a fresh index)."""
        return self._applied_seq

    @property
    def search_params(self) -> SearchParams:
        return self._search_params

    def set_search_params(self, params: SearchParams) -> None:
        """Change the runtime search knobs (no rebuild needed)."""
        if not isinstance(params, SearchParams):
            raise InvalidInputError("search params must be a SearchParams")
        self._search_params = params

    @property
    def is_trained(self) -> bool:
        return self._faiss.is_trained

    @property
    def rebuild_needed(self) -> bool:
        """True once tombstones exceed 20% of the stored vectors (search gets slower)."""
        dead = self._faiss.ids.tombstone_count
        return dead > REBUILD_TOMBSTONE_RATIO * max(1, self._faiss.ntotal)

    def __len__(self) -> int:
        return len(self._faiss.ids)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._faiss.ids

    def ids(self) -> set[str]:
        with self._lock.read():
            return self._faiss.ids.ids()

    def stats(self) -> dict[str, Any]:
        """Counts for operators: live documents, stored vectors, tombstones, buffer.

        ``dead_vectors`` (the tombstones) and ``dead_ratio`` (their share of the stored
        vectors) say when a rebuild (``POST /v1/indexes/{name}/rebuild``) is worth it.
        """
        with self._lock.read():
            counts = self._faiss.counts()
            return counts | {
                "pending": len(self._pending),
                "trained": self.is_trained,
                "applied_seq": self._applied_seq,
                "rebuild_needed": self.rebuild_needed,
            }

    def search(
        self, queries: QueryVectors, k: int, params: SearchParams | None = None
    ) -> list[list[Hit]]:
        """Up to ``k`` live hits per query, best first.

        ``params`` overrides the runtime knobs it sets. Queries from another embedder
        raise :class:`EmbedderMismatchError`.
        """
        matrix, effective = self._checked(queries, k, params)
        if len(matrix) == 0:
            return []
        with self._lock.read():
            if not self.is_trained:
                return self._search_pending(matrix, k, None)
            return self._faiss.search(matrix, k, effective)

    def search_among(
        self,
        queries: QueryVectors,
        k: int,
        allowed: Collection[str],
        params: SearchParams | None = None,
    ) -> list[list[Hit]]:
        """Up to ``k`` live hits per query among the ``allowed`` ids, best first; fewer only
        when fewer of them are live (:mod:`indexes.allowlist` says how, per layout)."""
        matrix, effective = self._checked(queries, k, params)
        if len(matrix) == 0:
            return []
        with self._lock.read():
            if not self.is_trained:
                return self._search_pending(matrix, k, allowed)
            return search_allowed(self._faiss, matrix, k, allowed, effective)

    def _checked(
        self, queries: QueryVectors, k: int, params: SearchParams | None
    ) -> tuple[np.ndarray, SearchParams]:
        in_this_thread()  # the FAISS work that follows runs on the process's thread count
        matrix = checked_queries(
            queries.vectors,
            queries.fingerprint,
            k,
            fingerprint=self.fingerprint,
            dim=self.dim,
            index=self.spec.name,
        )
        return matrix, self._search_params.overridden_by(params)

    def _search_pending(
        self, matrix: np.ndarray, k: int, allowed: Collection[str] | None
    ) -> list[list[Hit]]:
        found = self._pending.search(matrix, k, allowed)
        return [[Hit(doc_id, score) for doc_id, score in row] for row in found]

    # -- writing -------------------------------------------------------------------

    def apply(
        self,
        seq: int,
        upserts: Mapping[str, np.ndarray] | None = None,
        deletes: Iterable[str] = (),
    ) -> None:
        """Apply one write-log step: deletes, then upserts, then ``applied_seq = seq``.

        A ``seq`` at or below ``applied_seq`` is a no-op (replay idempotence). Input is
        checked before anything changes, so a bad vector leaves the index untouched.
        """
        check_int(seq, "seq", 0)
        if seq <= self._applied_seq:
            return
        new_ids, vectors = _columns(checked_upserts(upserts or {}, self.dim))
        gone = {check_str(i, "document id", allow_empty=False) for i in deletes}
        with self._lock.write():
            if seq <= self._applied_seq:
                return
            self._upsert(gone, new_ids, vectors)
            self._applied_seq = seq

    def backfill(self, upserts: Mapping[str, np.ndarray]) -> None:
        """Upsert documents copied from the store, outside the log's order.

        ``applied_seq`` does not move: the backfill fills in what predates dual-write,
        and the caller guarantees (by a version check under its own lock) that no
        newer write of these documents has been applied.
        """
        new_ids, vectors = _columns(checked_upserts(upserts, self.dim))
        if not new_ids:
            return
        with self._lock.write():
            self._upsert(set(), new_ids, vectors)

    def _upsert(self, gone: set[str], new_ids: list[str], vectors: list[np.ndarray]) -> None:
        in_this_thread()
        if self.is_trained:
            self._faiss.upsert(gone, new_ids, vectors)
        else:
            self._apply_pending(gone, new_ids, vectors)

    def _apply_pending(self, gone: set[str], new_ids: list[str], vectors: list[np.ndarray]) -> None:
        self._pending.take(self._faiss.ids, gone, new_ids, vectors)
        if len(self._pending) >= self.auto_train_size:
            try:
                self._train_and_flush(self._pending.rows()[1])
            except InvalidInputError:
                self.auto_train_size *= 2  # keep the write; retry with a larger sample
                log.warning(
                    "index %s: training on %d buffered vectors failed; retrying at %d",
                    self.spec.name,
                    len(self._pending),
                    self.auto_train_size,
                    exc_info=True,
                )

    def train(self, vectors: np.ndarray) -> None:
        """Train an untrained layout on ``vectors`` and take in the buffer.

        A no-op for layouts that need no training and for an already trained index
        (retraining a populated index would need a rebuild).
        """
        sample = as_matrix(vectors, self.dim, "training vectors")
        with self._lock.write():
            if not self.is_trained:
                self._train_and_flush(sample)

    def _train_and_flush(self, sample: np.ndarray) -> None:
        in_this_thread()
        self._faiss.train(sample, self.spec.name)
        self._faiss.add_labelled(*self._pending.rows())
        self._pending.clear()

    # -- state ---------------------------------------------------------------------

    def export_state(self, faiss_sink: Callable[[bytes], object] | None = None) -> IndexState:
        """A consistent copy of everything, taken while no mutation runs.

        With ``faiss_sink`` the FAISS index goes to it in pieces, under the same read lock
        (``stream_idmap``: a snapshot file written straight from the index), and the
        state's ``faiss_bytes`` is empty; without, it is copied into ``faiss_bytes``.
        """
        with self._lock.read():
            ids = self._faiss.ids
            if faiss_sink is None:
                faiss_bytes = faiss.serialize_index(self._faiss.idmap)
            else:
                stream_idmap(self._faiss.idmap, faiss_sink)
                faiss_bytes = np.empty(0, dtype=np.uint8)
            return IndexState(
                spec=self.spec,
                dim=self.dim,
                fingerprint=self.fingerprint,
                applied_seq=self._applied_seq,
                search_params=self._search_params,
                faiss_bytes=faiss_bytes,
                id_to_int=ids.as_dict(),
                next_int=ids.next_int,
                tombstones=ids.tombstones(),
                pending=self._pending.copy(),
                auto_train_size=self.auto_train_size,
            )

    @classmethod
    def from_state(cls, state: IndexState, *, idmap: Any = None) -> VectorIndex:
        """Rebuild from :meth:`export_state` (or ``idmap``, read already); bad -> SnapshotError."""
        index = cls(
            state.spec,
            state.dim,
            state.fingerprint,
            state.search_params,
            auto_train_size=state.auto_train_size,
            idmap=deserialize_idmap(state) if idmap is None else idmap,
        )
        index._restore(state)
        return index

    def _restore(self, state: IndexState) -> None:
        check_state(state, self._faiss.idmap)
        self._applied_seq = state.applied_seq
        self._faiss.ids = IdMap(state.id_to_int, state.next_int, state.tombstones)
        for doc_id, vec in state.pending.items():
            self._pending.put(doc_id, as_vector(vec, self.dim, f"pending vector of {doc_id!r}"))


def _columns(rows: list[tuple[str, np.ndarray]]) -> tuple[list[str], list[np.ndarray]]:
    return [doc_id for doc_id, _ in rows], [vec for _, vec in rows]
