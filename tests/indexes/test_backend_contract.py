"""FAISS in-process (``VectorIndex``) passes the index-backend contract on every layout."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from indexes import (
    IndexBackend,
    IndexSpec,
    VectorIndex,
    load_latest_snapshot,
    snapshottable,
    write_snapshot,
)

from .backend_contract import BackendContract, FilteredSearchContract, Layout
from .helpers import DIM, FINGERPRINT, HASH_SPEC

FACTORIES = {"flat": "Flat", "hnsw": "HNSW32,Flat", "ivf": "IVF16,Flat"}


@dataclass(frozen=True)
class FaissKit:
    """Layouts as FAISS factory strings; snapshots through real snapshot folders."""

    snapshots: Path

    def make(self, layout: Layout) -> IndexBackend:
        spec = IndexSpec(
            name="contract",
            embedder=HASH_SPEC,
            factory=FACTORIES[layout.kind],
            metric=layout.metric,
        )
        return VectorIndex(spec, DIM, FINGERPRINT)

    def restore(self, backend: IndexBackend) -> IndexBackend:
        assert snapshottable(backend), "FAISS lives in memory: it comes back from a snapshot"
        write_snapshot(backend, self.snapshots)
        loaded = load_latest_snapshot(self.snapshots, backend.spec, backend.fingerprint)
        assert loaded is not None, "the snapshot just written loads"
        return loaded[0]


class TestFaissBackend(BackendContract, FilteredSearchContract):
    @pytest.fixture
    def kit(self, tmp_path: Path) -> FaissKit:
        return FaissKit(tmp_path / "snapshots")

    def test_it_does_not_persist_itself(self, kit: FaissKit) -> None:
        assert not kit.make(Layout("flat", "ip")).persists_itself
