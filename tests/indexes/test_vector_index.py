"""VectorIndex semantics on every layout: ids, replace, delete, sequencing, recall, training."""

from __future__ import annotations

import numpy as np
import pytest

from indexes import (
    EmbedderMismatchError,
    IndexState,
    InvalidInputError,
    SearchParams,
    SnapshotError,
    VectorIndex,
)

from .helpers import (
    DIM,
    EXHAUSTIVE,
    FACTORIES,
    brute_force,
    doc_ids,
    hit_ids,
    is_trained,
    make_index,
    queries,
    ready_index,
    unit_vectors,
)


@pytest.fixture(params=FACTORIES)
def factory(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- ids, replace, delete ------------------------------------------------------------


def test_upserted_documents_are_live_and_findable(factory: str) -> None:
    index, docs = ready_index(factory)
    assert len(index) == len(docs)
    assert index.ids() == set(docs)
    assert "d5" in index
    assert "nope" not in index
    assert 5 not in index
    hits = index.search(queries(docs["d5"]), 1, EXHAUSTIVE)[0]
    assert hit_ids(hits) == ["d5"]


def test_a_replaced_document_appears_once_with_its_new_vector(factory: str) -> None:
    index, docs = ready_index(factory)
    new = unit_vectors(1, seed=99)[0]
    index.apply(2, {"d5": new})
    assert len(index) == len(docs)
    assert hit_ids(index.search(queries(new), 1, EXHAUSTIVE)[0]) == ["d5"]
    old_hits = hit_ids(index.search(queries(docs["d5"]), 50, EXHAUSTIVE)[0])
    assert old_hits[0] != "d5"
    assert len(old_hits) == len(set(old_hits))


def test_a_deleted_document_is_never_returned(factory: str) -> None:
    index, docs = ready_index(factory)
    gone = doc_ids(100)
    index.apply(2, deletes=gone)
    assert len(index) == len(docs) - 100
    for doc_id in gone[:10]:
        hits = hit_ids(index.search(queries(docs[doc_id]), len(docs), EXHAUSTIVE)[0])
        assert not set(hits) & set(gone)
        assert "-1" not in hits


def test_deleting_an_unknown_id_is_a_no_op(factory: str) -> None:
    index, docs = ready_index(factory)
    index.apply(2, deletes=["never-seen"])
    assert len(index) == len(docs)
    assert index.applied_seq == 2


def test_delete_then_upsert_in_one_step_keeps_the_document() -> None:
    index, _ = ready_index("Flat")
    new = unit_vectors(1, seed=7)[0]
    index.apply(2, {"d1": new}, deletes=["d1"])
    assert "d1" in index
    assert hit_ids(index.search(queries(new), 1)[0]) == ["d1"]


def test_tombstones_accumulate_where_remove_is_unsupported() -> None:
    index, _ = ready_index("HNSW32,Flat", n=100)
    index.apply(2, deletes=doc_ids(30))
    stats = index.stats()
    assert stats == stats | {"live": 70, "ntotal": 100, "tombstones": 30, "trained": True}
    assert (stats["dead_vectors"], stats["dead_ratio"]) == (30, 0.3)
    assert stats["applied_seq"] == 2
    assert index.rebuild_needed


def test_flat_removes_for_real() -> None:
    index, _ = ready_index("Flat", n=100)
    index.apply(2, deletes=doc_ids(30))
    index.apply(3, {"d40": unit_vectors(1, seed=3)[0]})
    assert index.stats() | {"applied_seq": 0} == {
        "live": 70,
        "ntotal": 70,
        "tombstones": 0,
        "dead_vectors": 0,
        "dead_ratio": 0.0,
        "pending": 0,
        "trained": True,
        "applied_seq": 0,
        "rebuild_needed": False,
    }


# -- sequencing and input checks -----------------------------------------------------


def test_an_already_applied_sequence_is_ignored(factory: str) -> None:
    index, docs = ready_index(factory, n=700)
    index.apply(5, deletes=["d1"])
    index.apply(5, deletes=["d2"])
    index.apply(3, {"new": docs["d0"]})
    assert index.applied_seq == 5
    assert "d2" in index
    assert "new" not in index


def test_an_empty_step_still_advances_the_sequence() -> None:
    index = make_index()
    index.apply(7)
    assert index.applied_seq == 7
    assert len(index) == 0


@pytest.mark.parametrize(
    ("upserts", "message"),
    [
        ({"ok": np.ones(DIM), "bad": np.ones(DIM + 1)}, "shape"),
        ({"nan": np.full(DIM, np.nan)}, "NaN"),
        ({"": np.ones(DIM)}, "document id"),
    ],
)
def test_bad_input_changes_nothing(upserts: dict[str, np.ndarray], message: str) -> None:
    index, docs = ready_index("Flat", n=10)
    with pytest.raises(InvalidInputError, match=message):
        index.apply(2, upserts, deletes=["d1"])
    assert index.applied_seq == 1
    assert index.ids() == set(docs)


def test_queries_from_another_embedder_are_refused() -> None:
    index, docs = ready_index("Flat", n=10)
    foreign = "0123456789ab" + "c" * 52
    with pytest.raises(EmbedderMismatchError, match=r"0123456789ab.*ffffffffffff"):
        index.search(queries(docs["d1"], fingerprint=foreign), 3)


def test_query_shape_and_k_are_checked() -> None:
    index, _ = ready_index("Flat", n=10)
    with pytest.raises(InvalidInputError, match="shape"):
        index.search(queries(np.ones(DIM + 1)), 3)
    with pytest.raises(InvalidInputError, match="k must be"):
        index.search(queries(np.ones(DIM)), 0)


def test_k_beyond_the_live_count_returns_what_exists(factory: str) -> None:
    index = make_index(factory)
    assert index.search(queries(np.ones(DIM)), 5) == [[]]
    index.apply(1, dict(zip(doc_ids(3), unit_vectors(3), strict=True)))
    hits = index.search(queries(unit_vectors(2, seed=5)), 10, EXHAUSTIVE)
    assert [sorted(hit_ids(h)) for h in hits] == [["d0", "d1", "d2"]] * 2


# -- result quality ------------------------------------------------------------------


def test_flat_matches_numpy_brute_force_exactly() -> None:
    index, docs = ready_index("Flat", n=500)
    probe = unit_vectors(20, seed=42)
    results = index.search(queries(probe), 10)
    matrix = np.stack(list(docs.values()))
    for q, hits in zip(probe, results, strict=True):
        assert hit_ids(hits) == brute_force(docs, q, 10)
        expected = np.sort(matrix @ q)[::-1][:10]
        np.testing.assert_allclose([h.score for h in hits], expected, rtol=1e-5)


def test_l2_scores_are_negated_distances_best_first() -> None:
    index = make_index("Flat", metric="l2")
    vectors = unit_vectors(50, seed=1)
    index.apply(1, dict(zip(doc_ids(50), vectors, strict=True)))
    q = unit_vectors(1, seed=2)[0]
    hits = index.search(queries(q), 5)[0]
    distances = ((vectors - q) ** 2).sum(1)
    assert hit_ids(hits) == [f"d{i}" for i in np.argsort(distances)[:5]]
    np.testing.assert_allclose([h.score for h in hits], -np.sort(distances)[:5], rtol=1e-4)


def _recall_at_10(index: VectorIndex, docs: dict[str, np.ndarray], params: SearchParams) -> float:
    probe = unit_vectors(50, seed=123)
    results = index.search(queries(probe), 10, params)
    found = [
        len(set(hit_ids(h)) & set(brute_force(docs, q, 10)))
        for q, h in zip(probe, results, strict=True)
    ]
    return sum(found) / (10 * len(probe))


def test_hnsw_recall_at_10_is_high_and_survives_tombstones() -> None:
    index, docs = ready_index("HNSW32,Flat", n=2000)
    assert _recall_at_10(index, docs, SearchParams(ef_search=128)) >= 0.95
    gone = doc_ids(400)
    index.apply(2, deletes=gone)
    live = {k: v for k, v in docs.items() if k not in gone}
    assert _recall_at_10(index, live, SearchParams(ef_search=128)) >= 0.95


def test_ivf_nprobe_trades_recall_and_is_exact_when_probing_all_lists() -> None:
    index, docs = ready_index("IVF16,Flat", n=1000)
    assert _recall_at_10(index, docs, SearchParams(nprobe=16)) == 1.0
    assert _recall_at_10(index, docs, SearchParams(nprobe=1)) < 0.9
    index.set_search_params(SearchParams(nprobe=16))
    assert index.search_params == SearchParams(nprobe=16)
    assert _recall_at_10(index, docs, SearchParams()) == 1.0


# -- untrained layouts ---------------------------------------------------------------


@pytest.mark.parametrize("factory", ["IVF16,Flat", "IVF16,PQ8x4np"])
def test_untrained_ivf_buffers_searches_exactly_then_trains_itself(factory: str) -> None:
    index = make_index(factory)
    assert index.auto_train_size == 39 * 16
    vectors = unit_vectors(700, seed=3)
    docs = dict(zip(doc_ids(700), vectors, strict=True))
    first = dict(list(docs.items())[:600])
    index.apply(1, first)
    index.apply(2, deletes=["d0"])
    del first["d0"]
    assert not is_trained(index)
    assert index.stats()["pending"] == 599
    q = unit_vectors(1, seed=4)[0]
    assert hit_ids(index.search(queries(q), 10)[0]) == brute_force(first, q, 10)

    index.apply(3, dict(list(docs.items())[600:]))
    stats = index.stats()
    assert index.is_trained
    assert (stats["pending"], stats["ntotal"], stats["live"]) == (0, 699, 699)
    assert hit_ids(index.search(queries(docs["d9"]), 1, EXHAUSTIVE)[0]) == ["d9"]


def test_train_flushes_the_buffer() -> None:
    index = make_index("IVF16,Flat")
    vectors = unit_vectors(20, seed=5)
    index.apply(1, dict(zip(doc_ids(20), vectors, strict=True)))
    index.train(unit_vectors(1000, seed=6))
    assert index.is_trained
    assert index.stats()["ntotal"] == 20
    assert hit_ids(index.search(queries(vectors[3]), 1, EXHAUSTIVE)[0]) == ["d3"]


def test_training_on_too_few_vectors_is_invalid_input() -> None:
    index = make_index("IVF16,Flat")
    with pytest.raises(InvalidInputError, match="could not train"):
        index.train(unit_vectors(4, seed=1))
    assert not index.is_trained


def test_train_is_a_no_op_for_layouts_without_training() -> None:
    index = make_index("Flat")
    index.train(unit_vectors(10))
    assert index.is_trained


def test_a_failed_auto_train_keeps_the_write_and_retries_later() -> None:
    index = make_index("IVF16,Flat", auto_train_size=8)  # fewer points than lists
    index.apply(1, dict(zip(doc_ids(8), unit_vectors(8), strict=True)))
    assert not index.is_trained
    assert len(index) == 8
    assert index.auto_train_size == 16


# -- state ---------------------------------------------------------------------------


def test_export_and_restore_give_the_same_index(factory: str) -> None:
    index, docs = ready_index(factory, n=300)
    index.apply(2, {"d1": unit_vectors(1, seed=8)[0]}, deletes=["d2", "d3"])
    index.set_search_params(SearchParams(ef_search=100, nprobe=16))
    restored = VectorIndex.from_state(index.export_state())
    assert restored.ids() == index.ids()
    assert restored.applied_seq == 2
    assert restored.search_params == index.search_params
    assert restored.stats() == index.stats()
    probe = queries(unit_vectors(5, seed=9))
    assert restored.search(probe, 10) == index.search(probe, 10)
    restored.apply(3, {"d2": docs["d2"]})
    assert "d2" in restored
    assert "d2" not in index


def test_an_inconsistent_state_is_refused() -> None:
    index, _ = ready_index("Flat", n=10)
    state = index.export_state()
    broken = IndexState(**{**vars(state), "id_to_int": {"d0": 0}})
    with pytest.raises(SnapshotError, match="stored ids"):
        VectorIndex.from_state(broken)
    garbage = IndexState(**{**vars(state), "faiss_bytes": np.zeros(16, np.uint8)})
    with pytest.raises(SnapshotError):
        VectorIndex.from_state(garbage)


# -- backfill (documents copied from the store, outside the log's order) -------------


@pytest.mark.parametrize("factory", ["Flat", "HNSW32,Flat", "IVF16,Flat"])
def test_backfill_adds_and_replaces_without_moving_the_sequence(factory: str) -> None:
    index = make_index(factory)
    index.apply(4, {"live": unit_vectors(1, seed=1)[0]})
    old = dict(zip(doc_ids(20), unit_vectors(20, seed=2), strict=True))
    index.backfill(old)
    newer = unit_vectors(1, seed=3)[0]
    index.backfill({"d3": newer})
    assert index.applied_seq == 4
    assert index.ids() == {"live", *old}
    assert hit_ids(index.search(queries(newer), 1, EXHAUSTIVE)[0]) == ["d3"]
    hits = hit_ids(index.search(queries(old["d3"]), 21, EXHAUSTIVE)[0])
    assert hits.count("d3") == 1


def test_backfill_checks_input_before_changing_anything() -> None:
    index = make_index()
    with pytest.raises(InvalidInputError, match="shape"):
        index.backfill({"a": np.ones(DIM), "b": np.ones(3)})
    assert len(index) == 0


def test_the_untrained_buffer_scores_l2_like_faiss_does() -> None:
    index = make_index("IVF16,Flat", metric="l2")
    vectors = unit_vectors(40, seed=21)
    index.apply(1, dict(zip(doc_ids(40), vectors, strict=True)))
    q = unit_vectors(1, seed=22)[0]
    before = index.search(queries(q), 5)[0]
    index.train(unit_vectors(1000, seed=23))
    after = index.search(queries(q), 5, EXHAUSTIVE)[0]
    assert hit_ids(before) == hit_ids(after)
    np.testing.assert_allclose([h.score for h in before], [h.score for h in after], atol=1e-5)
