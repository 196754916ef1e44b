"""The index-backend seam: what the core needs from one index version, typed and narrow.

Today's one backend is :class:`~indexes.VectorIndex`, FAISS in-process, whose state
lives in memory and survives restarts through snapshots (:func:`write_snapshot`).
An external vector engine (pgvector) persists itself: it says so with
``persists_itself`` and the core writes no snapshots of it (:func:`snapshottable`).

Every backend passes the contract suite in ``tests/indexes/backend_contract.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeGuard

import numpy as np

from .embedder_spec import QueryVectors
from .index_state import IndexState
from .spec import IndexSpec, SearchParams


@dataclass(frozen=True)
class Hit:
    """One search result; ``score`` is higher-is-better for both metrics."""

    id: str
    score: float


class IndexBackend(Protocol):
    """One index version's derived state, fed from the write log in sequence order.

    Writes: :meth:`apply` carries a write-log sequence and is idempotent on replay
    (a sequence at or below :attr:`applied_seq` changes nothing); :meth:`backfill`
    copies older documents in without moving it. Reads: :meth:`search` refuses query
    vectors from another embedder and never returns a deleted document.
    """

    @property
    def spec(self) -> IndexSpec: ...

    @property
    def dim(self) -> int: ...

    @property
    def fingerprint(self) -> str:
        """The embedder fingerprint every vector and query must come from."""
        ...

    @property
    def persists_itself(self) -> bool:
        """True when the backend is durable on its own (no snapshots needed)."""
        ...

    @property
    def applied_seq(self) -> int: ...

    @property
    def search_params(self) -> SearchParams: ...

    def set_search_params(self, params: SearchParams) -> None: ...

    @property
    def is_trained(self) -> bool:
        """False while the layout still needs a training sample before it can add."""
        ...

    @property
    def auto_train_size(self) -> int:
        """How many vectors training wants (the backfill samples that many)."""
        ...

    def train(self, vectors: np.ndarray) -> None: ...

    def __len__(self) -> int: ...

    def __contains__(self, doc_id: object) -> bool: ...

    def ids(self) -> set[str]: ...

    def stats(self) -> dict[str, Any]:
        """Counts for operators (``live``, ``applied_seq``, ``rebuild_needed`` ...)."""
        ...

    def apply(
        self,
        seq: int,
        upserts: Mapping[str, np.ndarray] | None = None,
        deletes: Iterable[str] = (),
    ) -> None: ...

    def backfill(self, upserts: Mapping[str, np.ndarray]) -> None: ...

    def search(
        self, queries: QueryVectors, k: int, params: SearchParams | None = None
    ) -> list[list[Hit]]: ...


class SnapshotBackend(IndexBackend, Protocol):
    """A backend held in memory, saved and brought back through its exported state."""

    def export_state(self) -> IndexState: ...


def snapshottable(index: IndexBackend) -> TypeGuard[SnapshotBackend]:
    """Whether ``index`` needs snapshots to survive a restart (it does not persist itself)."""
    return not index.persists_itself
