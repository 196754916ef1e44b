"""The exported state of a VectorIndex, and the checks a restored state must pass.

Snapshots store this state; restoring it must give back exactly the index that was
exported, so a state whose parts disagree (ids the FAISS index does not hold, ints
handed out twice) is refused rather than loaded into an index that answers wrongly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from .errors import SnapshotError
from .spec import IndexSpec, SearchParams, faiss_message


@dataclass(eq=False)
class IndexState:
    """Everything a snapshot needs to bring a ``VectorIndex`` back exactly."""

    spec: IndexSpec
    dim: int
    fingerprint: str
    applied_seq: int
    search_params: SearchParams
    # faiss.serialize_index of the IndexIDMap2, uint8; empty when it was streamed to a file
    # (export_state's faiss_sink) or is read from one (read_idmap)
    faiss_bytes: np.ndarray
    id_to_int: dict[str, int]
    next_int: int
    tombstones: list[int]
    pending: dict[str, np.ndarray] = field(default_factory=dict)  # untrained buffer, in order
    auto_train_size: int | None = None


def check_state(state: IndexState, idmap: Any) -> None:
    """Raise SnapshotError if ``state`` and the deserialised ``idmap`` disagree.

    In numpy, not Python sets: at a million documents this runs on every start.
    """
    problems = []
    if idmap.d != state.dim:
        problems.append(f"FAISS dim {idmap.d} != {state.dim}")
    ints = np.fromiter(state.id_to_int.values(), dtype=np.int64, count=len(state.id_to_int))
    every = np.sort(np.concatenate([ints, np.unique(np.asarray(state.tombstones, np.int64))]))
    if every.size and bool(np.any(every[1:] == every[:-1])):
        problems.append("int ids are not unique")
    if every.size and (every[0] < 0 or every[-1] >= state.next_int):
        problems.append("int ids outside [0, next_int)")
    stored = np.sort(faiss.vector_to_array(idmap.id_map))
    if idmap.is_trained and (state.pending or not np.array_equal(stored, every)):
        problems.append("stored ids do not match the id map")
    if not idmap.is_trained and (stored.size or state.pending.keys() != state.id_to_int.keys()):
        problems.append("buffered ids do not match the id map")
    if problems:
        raise SnapshotError("inconsistent index state: " + "; ".join(problems))


STREAM_PIECE = 4 << 20  # bytes per call of a stream_idmap sink


def stream_idmap(idmap: Any, sink: Callable[[bytes], object]) -> None:
    """Write ``idmap`` in FAISS's own format through ``sink``, in pieces of at most
    ``STREAM_PIECE`` bytes: no copy of the whole index in memory (``faiss.serialize_index``
    grows one, which at a million vectors takes 7 to 14 s against about 1.3 s this way).

    An exception raised by ``sink`` (a full disk) is raised again as itself, not as the
    RuntimeError FAISS would make of it.
    """
    failed: list[BaseException] = []

    def guarded(piece: bytes) -> None:
        if failed:  # FAISS goes on calling after a failure it has not seen yet
            return
        try:
            sink(piece)
        except BaseException as exc:  # kept, and raised again as itself below
            failed.append(exc)

    # in faiss's SWIG module, but missing from the __init__.pyi faiss-cpu ships; it holds
    # no buffer (each piece goes to the callback as FAISS writes it)
    writer = faiss.PyCallbackIOWriter(guarded, STREAM_PIECE)  # type: ignore[attr-defined]
    faiss.write_index(idmap, writer)
    if failed:
        raise failed[0]


def read_idmap(path: Path) -> Any:
    """The ``IndexIDMap2`` in the file ``path``, read by FAISS straight into the index (no
    byte copy in between); unreadable or another type: SnapshotError."""
    try:
        idmap = faiss.read_index(str(path))
    except RuntimeError as exc:
        raise SnapshotError(f"unreadable FAISS index: {faiss_message(exc)}") from exc
    return _checked_idmap(idmap)


def _checked_idmap(idmap: Any) -> Any:
    if not isinstance(idmap, faiss.IndexIDMap2):
        raise SnapshotError(f"expected an IndexIDMap2, found {type(idmap).__name__}")
    return idmap


def deserialize_idmap(state: IndexState) -> Any:
    """The ``IndexIDMap2`` serialised in ``state``; unreadable or another type: SnapshotError."""
    try:
        idmap = faiss.deserialize_index(np.ascontiguousarray(state.faiss_bytes, np.uint8))
    except RuntimeError as exc:
        raise SnapshotError(f"unreadable FAISS index: {faiss_message(exc)}") from exc
    return _checked_idmap(idmap)
