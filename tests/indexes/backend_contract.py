"""The index-backend contract: what every :class:`IndexBackend` does, whatever engine runs it.

An implementation's test module subclasses :class:`BackendContract` and gives it one
fixture, ``kit``: a :class:`BackendKit` that builds an empty backend for a
:class:`Layout` and, for backends that snapshot, brings one back from its snapshot.
Everything engine-specific (FAISS factory strings, a pgvector DSN) stays in that fixture.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import pytest

from indexes import (
    EmbedderMismatchError,
    Hit,
    IndexBackend,
    InvalidInputError,
    Metric,
    SearchParams,
    snapshottable,
)
from indexes.backend import searches_among

from .helpers import DIM, FINGERPRINT, doc_ids, is_trained, queries, unit_vectors

EXHAUSTIVE = SearchParams(ef_search=512, nprobe=16)  # every list, a beam wider than the data


@dataclass(frozen=True)
class Layout:
    """An engine-neutral index layout: exact (flat), graph (hnsw) or clustered (ivf)."""

    kind: Literal["flat", "hnsw", "ivf"]
    metric: Metric

    def __str__(self) -> str:
        return f"{self.kind}-{self.metric}"


LAYOUTS = [Layout(kind, metric) for kind in ("flat", "hnsw", "ivf") for metric in ("ip", "l2")]


class BackendKit(Protocol):
    def make(self, layout: Layout) -> IndexBackend:
        """An empty backend of ``layout`` over ``DIM``-d vectors of embedder ``FINGERPRINT``."""
        ...

    def restore(self, backend: IndexBackend) -> IndexBackend:
        """A new backend brought back as a restart brings it back.

        From a snapshot of ``backend`` when it is :func:`snapshottable`; otherwise (it
        ``persists_itself``) by attaching a new instance to the storage it lives in.
        """
        ...


def exact_top(docs: dict[str, np.ndarray], query: np.ndarray, k: int, metric: Metric) -> list[str]:
    """The true top ``k`` by numpy brute force (l2: the smallest squared distance first)."""
    ids = list(docs)
    matrix = np.stack([docs[i] for i in ids])
    scores = matrix @ query if metric == "ip" else -((matrix - query) ** 2).sum(axis=1)
    return [ids[j] for j in np.argsort(-scores, kind="stable")[:k]]


def ids_of(hits: list[Hit]) -> list[str]:
    return [h.id for h in hits]


def recall_at_10(
    backend: IndexBackend, docs: dict[str, np.ndarray], params: SearchParams | None = None
) -> float:
    probe = unit_vectors(50, seed=99)
    results = backend.search(queries(probe), 10, params)
    found = [
        len(set(ids_of(hits)) & set(exact_top(docs, q, 10, backend.spec.metric)))
        for q, hits in zip(probe, results, strict=True)
    ]
    return sum(found) / (10 * len(probe))


class BackendContract:
    """Every test takes a ``layout`` (all of :data:`LAYOUTS`) and the subclass's ``kit``."""

    @pytest.fixture(params=LAYOUTS, ids=str)
    def layout(self, request: pytest.FixtureRequest) -> Layout:
        layout: Layout = request.param
        return layout

    @pytest.fixture
    def backend(self, kit: BackendKit, layout: Layout) -> IndexBackend:
        """An empty backend of ``layout``, trained on a seeded sample if it needs training."""
        backend = kit.make(layout)
        if not backend.is_trained:
            backend.train(unit_vectors(max(1000, backend.auto_train_size), seed=1000))
        assert backend.is_trained
        return backend

    @pytest.fixture
    def docs(self) -> dict[str, np.ndarray]:
        return dict(zip(doc_ids(300), unit_vectors(300, seed=0), strict=True))

    @pytest.fixture
    def loaded(self, backend: IndexBackend, docs: dict[str, np.ndarray]) -> IndexBackend:
        """``backend`` holding ``docs`` at sequence 1."""
        backend.apply(1, docs)
        return backend

    # -- writes by string id -------------------------------------------------------------

    def test_upserted_documents_are_live_under_their_string_ids(
        self, loaded: IndexBackend, docs: dict[str, np.ndarray]
    ) -> None:
        assert len(loaded) == 300
        assert loaded.ids() == set(docs)
        assert "d7" in loaded
        assert "d300" not in loaded
        assert loaded.stats()["live"] == 300

    def test_an_upsert_replaces_the_document_and_it_appears_once(
        self, loaded: IndexBackend, docs: dict[str, np.ndarray]
    ) -> None:
        new = unit_vectors(1, seed=7)[0]
        loaded.apply(2, {"d1": new})
        assert len(loaded) == 300
        assert ids_of(loaded.search(queries(new), 1, EXHAUSTIVE)[0]) == ["d1"]
        everything = ids_of(loaded.search(queries(docs["d1"]), 300, EXHAUSTIVE)[0])
        assert everything.count("d1") == 1

    def test_a_deleted_id_is_never_returned(
        self, loaded: IndexBackend, docs: dict[str, np.ndarray]
    ) -> None:
        gone = set(doc_ids(100))
        loaded.apply(2, deletes=[*gone, "never-written"])
        assert len(loaded) == 200
        assert loaded.ids() == set(docs) - gone
        probe = np.stack([docs[i] for i in sorted(gone)[:20]])  # the deleted vectors themselves
        for hits in loaded.search(queries(probe), 300, EXHAUSTIVE):
            assert gone.isdisjoint(ids_of(hits))

    def test_backfill_adds_and_replaces_without_moving_the_sequence(
        self, loaded: IndexBackend
    ) -> None:
        extra = unit_vectors(2, seed=11)
        loaded.backfill({"old": extra[0], "d3": extra[1]})
        assert loaded.applied_seq == 1
        assert len(loaded) == 301
        assert ids_of(loaded.search(queries(extra[1]), 1, EXHAUSTIVE)[0]) == ["d3"]

    # -- the write-log sequence ----------------------------------------------------------

    def test_the_applied_sequence_only_moves_forward_and_a_replay_changes_nothing(
        self, backend: IndexBackend
    ) -> None:
        assert backend.applied_seq == 0
        first, second = unit_vectors(2, seed=3)
        backend.apply(1, {"a": first})
        backend.apply(3, {"b": second})
        backend.apply(3, deletes=["a"])  # replayed: already applied
        backend.apply(2, {"c": first})  # older than the applied sequence
        assert backend.applied_seq == 3
        assert backend.ids() == {"a", "b"}
        backend.apply(4)  # an empty step still advances
        assert backend.applied_seq == 4
        assert backend.stats()["applied_seq"] == 4

    # -- search --------------------------------------------------------------------------

    def test_an_exhaustive_search_is_the_exact_top_k(
        self, loaded: IndexBackend, docs: dict[str, np.ndarray], layout: Layout
    ) -> None:
        probe = unit_vectors(20, seed=5)
        if layout.kind == "hnsw":  # a graph is approximate even with a wide beam
            assert recall_at_10(loaded, docs, EXHAUSTIVE) >= 0.95
            return
        for q, hits in zip(probe, loaded.search(queries(probe), 10, EXHAUSTIVE), strict=True):
            assert ids_of(hits) == exact_top(docs, q, 10, layout.metric)
            scores = [h.score for h in hits]
            assert scores == sorted(scores, reverse=True), "best first, higher is better"

    def test_flat_scores_are_the_exact_similarities(
        self, loaded: IndexBackend, docs: dict[str, np.ndarray], layout: Layout
    ) -> None:
        q = unit_vectors(1, seed=6)[0]
        hits = loaded.search(queries(q), 5)[0]
        for hit in hits:
            vec = docs[hit.id]
            expected = float(vec @ q) if layout.metric == "ip" else -float(((vec - q) ** 2).sum())
            assert hit.score == pytest.approx(expected, abs=1e-4)

    def test_k_larger_than_the_count_returns_every_live_document(
        self, backend: IndexBackend
    ) -> None:
        backend.apply(1, dict(zip(doc_ids(5), unit_vectors(5, seed=2), strict=True)))
        backend.apply(2, deletes=["d0"])
        hits = backend.search(queries(unit_vectors(1, seed=4)), 50, EXHAUSTIVE)[0]
        assert sorted(ids_of(hits)) == ["d1", "d2", "d3", "d4"]

    def test_search_params_are_kept_and_a_call_overrides_them(
        self, loaded: IndexBackend, docs: dict[str, np.ndarray], layout: Layout
    ) -> None:
        loaded.set_search_params(SearchParams(nprobe=1, ef_search=16))
        assert loaded.search_params == SearchParams(nprobe=1, ef_search=16)
        probe = queries(unit_vectors(10, seed=8))
        if layout.kind == "ivf":  # one probed list of 16 misses most true neighbours
            assert recall_at_10(loaded, docs) < 0.9
            assert recall_at_10(loaded, docs, EXHAUSTIVE) == 1.0
        loaded.set_search_params(EXHAUSTIVE)
        assert loaded.search(probe, 10) == loaded.search(probe, 10, EXHAUSTIVE)

    # -- refusals ------------------------------------------------------------------------

    def test_a_vector_of_the_wrong_dimension_is_refused_and_changes_nothing(
        self, loaded: IndexBackend
    ) -> None:
        with pytest.raises(InvalidInputError):
            loaded.apply(2, {"ok": unit_vectors(1)[0], "bad": np.ones(DIM + 1, np.float32)})
        with pytest.raises(InvalidInputError):
            loaded.backfill({"bad": np.ones(DIM - 1, np.float32)})
        assert loaded.applied_seq == 1
        assert "ok" not in loaded
        assert "bad" not in loaded
        assert len(loaded) == 300

    def test_queries_from_another_embedder_are_refused(self, loaded: IndexBackend) -> None:
        assert loaded.fingerprint == FINGERPRINT
        with pytest.raises(EmbedderMismatchError):
            loaded.search(queries(unit_vectors(1), fingerprint="0" * 64), 5)

    # -- durability ----------------------------------------------------------------------

    def test_after_a_restart_it_equals_the_original(
        self, kit: BackendKit, loaded: IndexBackend, docs: dict[str, np.ndarray]
    ) -> None:
        """Both kinds of durability, each explicit: a snapshot (FAISS) or itself (pgvector)."""
        loaded.apply(2, {"d1": unit_vectors(1, seed=8)[0]}, deletes=["d2", "d3"])
        loaded.set_search_params(EXHAUSTIVE)
        restored = kit.restore(loaded)
        if not snapshottable(loaded):  # its knobs live in the catalog; start-up sets them
            restored.set_search_params(EXHAUSTIVE)
        assert restored.ids() == loaded.ids()
        assert restored.applied_seq == 2
        assert restored.search_params == EXHAUSTIVE
        assert restored.stats() == loaded.stats()
        assert restored.stats()["live"] == 298
        probe = queries(unit_vectors(5, seed=9))
        assert restored.search(probe, 10) == loaded.search(probe, 10)
        restored.apply(2, deletes=["d1"])  # a replayed record changes nothing after a restart
        assert "d1" in restored
        restored.apply(3, {"d2": docs["d2"]})
        assert "d2" in restored
        if snapshottable(loaded):
            assert "d2" not in loaded, "the restored copy shares nothing with the original"
        else:
            again = kit.restore(restored)
            assert "d2" in again, "a backend that persists itself keeps what it applied"
            assert again.applied_seq == 3

    # -- training ------------------------------------------------------------------------

    def test_writes_before_training_are_kept_searched_exactly_then_trained_in(
        self, kit: BackendKit
    ) -> None:
        backend = kit.make(Layout("ivf", "ip"))
        assert not is_trained(backend)
        docs = dict(zip(doc_ids(50), unit_vectors(50, seed=3), strict=True))
        backend.apply(1, docs)
        q = unit_vectors(1, seed=4)[0]
        assert ids_of(backend.search(queries(q), 10)[0]) == exact_top(docs, q, 10, "ip")
        backend.train(unit_vectors(max(1000, backend.auto_train_size), seed=5))
        assert backend.is_trained
        assert backend.ids() == set(docs)
        assert ids_of(backend.search(queries(docs["d9"]), 1, EXHAUSTIVE)[0]) == ["d9"]


class FilteredSearchContract:
    """For a backend that searches among given ids (:class:`AllowListSearch`): every hit is
    allowed, ``k`` come back whenever ``k`` allowed documents are live, exact on flat."""

    @pytest.mark.parametrize("share", [0.5, 0.1, 0.02, 0.004])
    def test_a_search_among_ids_is_exact_with_respect_to_them(
        self, loaded: IndexBackend, docs: dict[str, np.ndarray], layout: Layout, share: float
    ) -> None:
        if not searches_among(loaded):
            pytest.skip("search_among is optional: this backend filters another way")
        rng = np.random.default_rng(int(share * 1000))
        allowed = {i for i in docs if rng.random() < share} | {"d0", "never-written"}
        loaded.apply(2, deletes=["d0"])
        live = {i: docs[i] for i in allowed if i in docs and i != "d0"}
        probe = unit_vectors(10, seed=8)
        for q, hits in zip(probe, loaded.search_among(queries(probe), 10, allowed), strict=True):
            assert set(ids_of(hits)) <= set(live)
            assert len(hits) == min(10, len(live))
            if layout.kind == "flat":
                assert ids_of(hits) == exact_top(live, q, 10, layout.metric)
