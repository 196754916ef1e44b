"""The FAISS wrapper: string ids, write-log sequencing, deletes, safe concurrent search.

One :class:`VectorIndex` is one index version's derived state. Every change arrives
through :meth:`VectorIndex.apply` tagged with the write-log sequence it comes from;
an already-applied sequence is ignored, so replaying the log after a snapshot is
idempotent. Searches run concurrently under a shared lock, mutations and exports
alone under an exclusive one.

Ids: string document ids map to int64 ids assigned here, sequentially. Where
``remove_ids`` is reliable a replaced document keeps its int; elsewhere (HNSW, IVF)
the old int becomes a tombstone (a dead vector), excluded from searches with an
``IDSelector``; ``stats()`` counts them and ``rebuild_needed`` says when a rebuild, a
layout-only migration to the same spec that copies only the live documents, is worth it.

Untrained layouts (IVF, PQ) cannot ``add`` yet, so vectors are buffered and
searched exactly with numpy until ``auto_train_size`` vectors have arrived; then the
index trains on the buffer and takes it in. Writes are never refused for want of
training.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np

from ._checks import as_matrix, as_vector, check_int, check_str
from .embedder_spec import QueryVectors
from .errors import EmbedderMismatchError, InvalidInputError, SnapshotError
from .faiss_layout import Layout, TombstoneSelector, new_idmap
from .index_state import IndexState, check_state
from .pending import PendingBuffer
from .rwlock import RWLock
from .spec import IndexSpec, SearchParams, faiss_message

__all__ = ["Hit", "IndexState", "VectorIndex"]  # IndexState lives in index_state

log = logging.getLogger(__name__)

REBUILD_TOMBSTONE_RATIO = 0.2


@dataclass(frozen=True)
class Hit:
    """One search result; ``score`` is higher-is-better for both metrics."""

    id: str
    score: float


class VectorIndex:
    """An ``IndexIDMap2`` over a FAISS factory layout, fed from the write log."""

    def __init__(
        self,
        spec: IndexSpec,
        dim: int,
        fingerprint: str,
        search_params: SearchParams | None = None,
        *,
        auto_train_size: int | None = None,
    ) -> None:
        idmap = new_idmap(spec, dim)
        self._setup(
            spec, dim, fingerprint, idmap=idmap, params=search_params, train_size=auto_train_size
        )

    def _setup(
        self,
        spec: IndexSpec,
        dim: int,
        fingerprint: str,
        *,
        idmap: Any,
        params: SearchParams | None,
        train_size: int | None,
    ) -> None:
        check_str(fingerprint, "fingerprint", allow_empty=False)
        self.spec = spec
        self.dim = dim
        self.fingerprint = fingerprint
        self._index = idmap
        self._layout = Layout.of(idmap)
        if train_size is not None:
            check_int(train_size, "auto_train_size", 1)
        self.auto_train_size = train_size or self._layout.auto_train_size
        self._search_params = params or SearchParams()
        self._lock = RWLock()
        self._applied_seq = 0
        self._id_to_int: dict[str, int] = {}
        self._int_to_id: dict[int, str] = {}
        self._next_int = 0
        self._tombstones: set[int] = set()
        self._selector: TombstoneSelector | None = None
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
        return bool(self._index.is_trained)

    @property
    def rebuild_needed(self) -> bool:
        """True once tombstones exceed 20% of the stored vectors (search gets slower)."""
        return len(self._tombstones) > REBUILD_TOMBSTONE_RATIO * max(1, int(self._index.ntotal))

    def __len__(self) -> int:
        return len(self._id_to_int)

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and doc_id in self._id_to_int

    def ids(self) -> set[str]:
        with self._lock.read():
            return set(self._id_to_int)

    def stats(self) -> dict[str, Any]:
        """Counts for operators: live documents, stored vectors, tombstones, buffer.

        ``dead_vectors`` (the tombstones) and ``dead_ratio`` (their share of the stored
        vectors) say when a rebuild (``POST /v1/indexes/{name}/rebuild``) is worth it.
        """
        with self._lock.read():
            ntotal = int(self._index.ntotal)
            return {
                "live": len(self._id_to_int),
                "ntotal": ntotal,
                "tombstones": len(self._tombstones),
                "dead_vectors": len(self._tombstones),
                "dead_ratio": len(self._tombstones) / ntotal if ntotal else 0.0,
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
        if queries.fingerprint != self.fingerprint:
            raise EmbedderMismatchError(
                f"query vectors come from embedder {queries.fingerprint[:12]} but index"
                f" {self.spec.name!r} uses embedder {self.fingerprint[:12]}"
            )
        check_int(k, "k", 1)
        matrix = as_matrix(queries.vectors, self.dim, "query vectors")
        effective = self._search_params.overridden_by(params)
        if len(matrix) == 0:
            return []
        with self._lock.read():
            if not self.is_trained:
                found = self._pending.search(matrix, k)
                return [[Hit(doc_id, score) for doc_id, score in row] for row in found]
            return self._search_faiss(matrix, k, effective)

    def _search_faiss(self, matrix: np.ndarray, k: int, params: SearchParams) -> list[list[Hit]]:
        if self._index.ntotal == 0:
            return [[] for _ in range(len(matrix))]
        selector = self._selector
        faiss_params = self._layout.search_parameters(
            params, selector.selector if selector is not None else None
        )
        distances, labels = self._index.search(matrix, k, params=faiss_params)
        sign = 1.0 if self.spec.metric == "ip" else -1.0  # l2: a smaller distance is better
        out: list[list[Hit]] = []
        for row_d, row_l in zip(distances, labels, strict=True):
            hits = []
            for dist, label in zip(row_d.tolist(), row_l.tolist(), strict=True):
                doc_id = self._int_to_id.get(label)  # drops -1 and any tombstone
                if doc_id is not None:
                    hits.append(Hit(doc_id, sign * dist))
            out.append(hits)
        return out

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
        new_ids = [check_str(i, "document id", allow_empty=False) for i in (upserts or {})]
        vectors = [as_vector(v, self.dim, f"vector of {i!r}") for i, v in (upserts or {}).items()]
        gone = {check_str(i, "document id", allow_empty=False) for i in deletes}
        with self._lock.write():
            if seq <= self._applied_seq:
                return
            if self.is_trained:
                self._apply_trained(gone, new_ids, vectors)
            else:
                self._apply_pending(gone, new_ids, vectors)
            self._applied_seq = seq

    def backfill(self, upserts: Mapping[str, np.ndarray]) -> None:
        """Upsert documents copied from the store, outside the log's order.

        ``applied_seq`` does not move: the backfill fills in what predates dual-write,
        and the caller guarantees (by a version check under its own lock) that no
        newer write of these documents has been applied.
        """
        new_ids = [check_str(i, "document id", allow_empty=False) for i in upserts]
        vectors = [as_vector(v, self.dim, f"vector of {i!r}") for i, v in upserts.items()]
        if not new_ids:
            return
        with self._lock.write():
            if self.is_trained:
                self._apply_trained(set(), new_ids, vectors)
            else:
                self._apply_pending(set(), new_ids, vectors)

    def _apply_trained(self, gone: set[str], new_ids: list[str], vectors: list[np.ndarray]) -> None:
        replaced = [i for i in new_ids if i in self._id_to_int and i not in gone]
        dropped = [i for i in gone if i in self._id_to_int]
        keep_int = self._layout.removable
        old_ints = [self._id_to_int[i] for i in dropped + replaced]
        if old_ints and keep_int:
            self._index.remove_ids(faiss.IDSelectorBatch(np.array(old_ints, dtype=np.int64)))
        elif old_ints:
            self._tombstones.update(old_ints)
            self._selector = TombstoneSelector.of(self._tombstones)
        for doc_id in dropped if keep_int else dropped + replaced:
            del self._int_to_id[self._id_to_int.pop(doc_id)]
        if new_ids:
            ints = np.array([self._assign_int(i) for i in new_ids], dtype=np.int64)
            self._index.add_with_ids(np.stack(vectors), ints)

    def _apply_pending(self, gone: set[str], new_ids: list[str], vectors: list[np.ndarray]) -> None:
        for doc_id in gone & self._id_to_int.keys():
            del self._int_to_id[self._id_to_int.pop(doc_id)]
            self._pending.drop(doc_id)
        for doc_id, vec in zip(new_ids, vectors, strict=True):
            self._assign_int(doc_id)
            self._pending.put(doc_id, vec)
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

    def _assign_int(self, doc_id: str) -> int:
        """The int for ``doc_id``: its current one if it has one, else the next free one."""
        existing = self._id_to_int.get(doc_id)
        if existing is not None:
            return existing
        value = self._id_to_int[doc_id] = self._next_int
        self._int_to_id[value] = doc_id
        self._next_int += 1
        return value

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
        try:
            self._index.train(sample)
        except RuntimeError as exc:
            raise InvalidInputError(
                f"index {self.spec.name!r} could not train on {len(sample)} vectors:"
                f" {faiss_message(exc)}"
            ) from exc
        ids, matrix = self._pending.rows()
        if ids:
            ints = np.array([self._id_to_int[i] for i in ids], dtype=np.int64)
            self._index.add_with_ids(matrix, ints)
        self._pending.clear()

    # -- state ---------------------------------------------------------------------

    def export_state(self) -> IndexState:
        """A consistent copy of everything, taken while no mutation runs."""
        with self._lock.read():
            return IndexState(
                spec=self.spec,
                dim=self.dim,
                fingerprint=self.fingerprint,
                applied_seq=self._applied_seq,
                search_params=self._search_params,
                faiss_bytes=faiss.serialize_index(self._index),
                id_to_int=dict(self._id_to_int),
                next_int=self._next_int,
                tombstones=sorted(self._tombstones),
                pending=self._pending.copy(),
                auto_train_size=self.auto_train_size,
            )

    @classmethod
    def from_state(cls, state: IndexState) -> VectorIndex:
        """Rebuild an index from :meth:`export_state`; inconsistent state -> SnapshotError."""
        try:
            idmap = faiss.deserialize_index(np.ascontiguousarray(state.faiss_bytes, np.uint8))
        except RuntimeError as exc:
            raise SnapshotError(f"unreadable FAISS index: {faiss_message(exc)}") from exc
        if not isinstance(idmap, faiss.IndexIDMap2):
            raise SnapshotError(f"expected an IndexIDMap2, found {type(idmap).__name__}")
        index = cls.__new__(cls)
        index._setup(
            state.spec,
            state.dim,
            state.fingerprint,
            idmap=idmap,
            params=state.search_params,
            train_size=state.auto_train_size,
        )
        index._restore(state)
        return index

    def _restore(self, state: IndexState) -> None:
        check_state(state, self._index)
        self._applied_seq = state.applied_seq
        self._id_to_int = dict(state.id_to_int)
        self._int_to_id = {v: k for k, v in state.id_to_int.items()}
        self._next_int = state.next_int
        self._tombstones = set(state.tombstones)
        self._selector = TombstoneSelector.of(self._tombstones)
        for doc_id, vec in state.pending.items():
            self._pending.put(doc_id, as_vector(vec, self.dim, f"pending vector of {doc_id!r}"))
