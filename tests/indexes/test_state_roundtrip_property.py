"""Property: restoring mid-log and replaying the rest equals applying the whole log.

Both also equal applying the log's net effect in a single step (what the migrator's
coalescing does).

This is the recovery promise of the design (snapshot + replay == full replay), checked
on random sequences of upserts and deletes, on a removing layout (Flat), a tombstoning
one (HNSW) and one that trains itself part-way through (IVF).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexes import SearchParams, VectorIndex, load_latest_snapshot, write_snapshot

from .helpers import FINGERPRINT, hit_ids, make_index, queries, unit_vectors

EXACT = SearchParams(ef_search=512, nprobe=4)
PROBE = queries(unit_vectors(4, seed=2024))

# An op: (is_delete, document number). Each upsert gets a vector no other op uses.
ops_strategy = st.lists(st.tuples(st.booleans(), st.integers(0, 11)), min_size=1, max_size=30)


def _apply(
    index: VectorIndex, ops: list[tuple[bool, int]], start: int, vectors: np.ndarray
) -> None:
    for seq in range(start, len(ops) + 1):
        is_delete, doc = ops[seq - 1]
        if is_delete:
            index.apply(seq, deletes=[f"doc{doc}"])
        else:
            index.apply(seq, {f"doc{doc}": vectors[seq - 1]})


def _coalesced(
    ops: list[tuple[bool, int]], vectors: np.ndarray
) -> tuple[dict[str, np.ndarray], set[str]]:
    """The net effect of ``ops``: last upsert per document, deletes of the rest."""
    upserts: dict[str, np.ndarray] = {}
    deletes: set[str] = set()
    for (is_delete, doc), vec in zip(ops, vectors, strict=True):
        key = f"doc{doc}"
        if is_delete:
            upserts.pop(key, None)
            deletes.add(key)
        else:
            upserts[key] = vec
            deletes.discard(key)
    return upserts, deletes


def _restore(index: VectorIndex, via_snapshot: bool) -> VectorIndex:
    if not via_snapshot:
        return VectorIndex.from_state(index.export_state())
    with tempfile.TemporaryDirectory() as tmp:
        write_snapshot(index, Path(tmp))
        loaded = load_latest_snapshot(Path(tmp), index.spec, FINGERPRINT)
    assert loaded is not None
    return loaded[0]


def _results(index: VectorIndex) -> list[list[tuple[str, float]]]:
    return [[(h.id, round(h.score, 4)) for h in hits] for hits in index.search(PROBE, 5, EXACT)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=ops_strategy,
    factory=st.sampled_from(["Flat", "HNSW32,Flat", "IVF4,Flat"]),
    split=st.floats(0, 1),
    via_snapshot=st.booleans(),
)
def test_restore_then_replay_equals_one_pass(
    ops: list[tuple[bool, int]], factory: str, split: float, via_snapshot: bool
) -> None:
    vectors = unit_vectors(len(ops), seed=len(ops))
    cut = int(split * len(ops))

    whole = make_index(factory, auto_train_size=8)
    _apply(whole, ops, 1, vectors)

    first = make_index(factory, auto_train_size=8)
    _apply(first, ops[:cut], 1, vectors)
    resumed = _restore(first, via_snapshot)
    _apply(resumed, ops, 1, vectors)  # replay from the start: old sequences are no-ops

    one_step = make_index(factory, auto_train_size=8)
    upserts, deletes = _coalesced(ops, vectors)
    one_step.apply(len(ops), upserts, deletes)

    assert resumed.applied_seq == whole.applied_seq == one_step.applied_seq == len(ops)
    assert resumed.ids() == whole.ids() == one_step.ids() == set(upserts)
    expected = [hit_ids(h) for h in whole.search(PROBE, 5, EXACT)]
    assert [hit_ids(h) for h in resumed.search(PROBE, 5, EXACT)] == expected
    assert [hit_ids(h) for h in one_step.search(PROBE, 5, EXACT)] == expected
    assert _results(resumed) == _results(whole)
