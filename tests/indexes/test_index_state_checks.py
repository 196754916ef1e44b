"""A restored state whose parts disagree is refused, naming what disagrees (check_state)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import faiss
import numpy as np
import pytest

from indexes import SnapshotError, VectorIndex
from indexes.index_state import IndexState

from .helpers import doc_ids, make_index, unit_vectors


def _state(factory: str = "HNSW32,Flat") -> IndexState:
    """Ten documents at seq 2, one deleted and one replaced (two tombstones on HNSW)."""
    index = make_index(factory)
    index.apply(1, dict(zip(doc_ids(10), unit_vectors(10, seed=2), strict=True)))
    index.apply(2, {"d3": unit_vectors(1, seed=3)[0]}, deletes=["d1"])
    return index.export_state()


def _with(state: IndexState, **changes: Any) -> IndexState:
    return IndexState(**{**vars(state), **changes})


def _twice_stored(state: IndexState) -> IndexState:
    """The same label stored twice in FAISS (a set comparison would not see it)."""
    idmap = faiss.deserialize_index(state.faiss_bytes)
    idmap.add_with_ids(unit_vectors(1, seed=4), np.array([0], dtype=np.int64))
    return _with(state, faiss_bytes=faiss.serialize_index(idmap))


def _first_label(state: IndexState) -> int:
    return next(iter(state.id_to_int.values()))


BREAKAGES: dict[str, tuple[Callable[[IndexState], IndexState], str]] = {
    "dim": (lambda s: _with(s, dim=s.dim + 1), "FAISS dim 64 != 65"),
    "two ids, one label": (
        lambda s: _with(s, id_to_int={**s.id_to_int, "d0": s.id_to_int["d2"]}),
        "int ids are not unique",
    ),
    "a live label buried": (
        lambda s: _with(s, tombstones=[*s.tombstones, _first_label(s)]),
        "int ids are not unique",
    ),
    "label past next_int": (
        lambda s: _with(s, next_int=max(s.id_to_int.values())),
        "int ids outside [0, next_int)",
    ),
    "negative label": (
        lambda s: _with(s, id_to_int={**s.id_to_int, "new": -5}),
        "int ids outside [0, next_int)",
    ),
    "an id FAISS does not hold": (
        lambda s: _with(s, id_to_int={**s.id_to_int, "new": s.next_int}, next_int=s.next_int + 1),
        "stored ids do not match the id map",
    ),
    "a stored label the map forgot": (
        lambda s: _with(s, id_to_int={k: v for k, v in s.id_to_int.items() if k != "d0"}),
        "stored ids do not match the id map",
    ),
    "a label stored twice": (_twice_stored, "stored ids do not match the id map"),
    "pending beside a trained index": (
        lambda s: _with(s, pending={"d0": unit_vectors(1)[0]}),
        "stored ids do not match the id map",
    ),
}


@pytest.mark.parametrize("name", list(BREAKAGES))
def test_a_state_whose_parts_disagree_is_refused(name: str) -> None:
    state = _state()
    assert len(state.tombstones) == 2
    VectorIndex.from_state(state)  # the unbroken state loads
    breakage, message = BREAKAGES[name]
    with pytest.raises(SnapshotError, match=f"inconsistent index state: .*{re.escape(message)}"):
        VectorIndex.from_state(breakage(state))


def test_an_untrained_index_must_buffer_exactly_its_ids() -> None:
    index = make_index("IVF16,Flat")
    index.apply(1, dict(zip(doc_ids(5), unit_vectors(5, seed=6), strict=True)))
    state = index.export_state()
    VectorIndex.from_state(state)
    fewer = dict(list(state.pending.items())[:4])
    with pytest.raises(SnapshotError, match="buffered ids do not match the id map"):
        VectorIndex.from_state(_with(state, pending=fewer))
