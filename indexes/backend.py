"""The index-backend seam: what the core needs from one index version, typed and narrow.

Today's one backend is :class:`~indexes.VectorIndex`, FAISS in-process, whose state
lives in memory and survives restarts through snapshots (:func:`write_snapshot`).
An external vector engine (pgvector) persists itself: it says so with
``persists_itself`` and the core writes no snapshots of it (:func:`snapshottable`).

Filtered search is an optional capability, one of two narrow methods a backend may add:
``search_among`` (the core resolves the filter to the allowed document ids and the
backend searches only those: FAISS, with an ``IDSelector``) or ``search_filtered`` (the
backend takes the filter itself and pushes it down, e.g. a ``WHERE`` on an engine that
holds the metadata). A backend with neither is still filtered exactly, by the core's
bounded over-fetch (``migrator/filtered_search.py``).

Every backend passes the contract suite in ``tests/indexes/backend_contract.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeGuard

import numpy as np

from .embedder_spec import QueryVectors
from .filters import Filter
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

    def export_state(self, faiss_sink: Callable[[bytes], object] | None = None) -> IndexState:
        """Everything, consistent; with ``faiss_sink`` the FAISS index is streamed to it
        instead of copied into ``faiss_bytes``."""
        ...


class AllowListSearch(IndexBackend, Protocol):
    """A backend that can search only among given document ids, exactly with respect to them."""

    def search_among(
        self,
        queries: QueryVectors,
        k: int,
        allowed: Collection[str],
        params: SearchParams | None = None,
    ) -> list[list[Hit]]:
        """Up to ``k`` hits per query, every one in ``allowed``; fewer only when fewer of
        ``allowed`` are live."""
        ...


class FilterPushdown(IndexBackend, Protocol):
    """A backend that evaluates a metadata filter itself (it sees the documents' metadata)."""

    def search_filtered(
        self,
        queries: QueryVectors,
        k: int,
        where: Filter,
        params: SearchParams | None = None,
    ) -> list[list[Hit]]:
        """Up to ``k`` hits per query, every one matching ``where``; fewer only when fewer
        live documents match."""
        ...


def searches_among(index: IndexBackend) -> TypeGuard[AllowListSearch]:
    return callable(getattr(index, "search_among", None))


def pushes_filters_down(index: IndexBackend) -> TypeGuard[FilterPushdown]:
    return callable(getattr(index, "search_filtered", None))


def snapshottable(index: IndexBackend) -> TypeGuard[SnapshotBackend]:
    """Whether ``index`` needs snapshots to survive a restart (it does not persist itself)."""
    return not index.persists_itself
