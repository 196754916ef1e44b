"""Searches run alongside writes and never see a half-applied or already-deleted state."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from indexes import VectorIndex
from indexes.rwlock import RWLock

from .helpers import EXHAUSTIVE, doc_ids, hit_ids, queries, ready_index, unit_vectors


def test_readers_share_the_lock() -> None:
    lock = RWLock()
    inside = threading.Barrier(2, timeout=5)

    def reader() -> None:
        with lock.read():
            inside.wait()  # both readers must be inside at once to pass

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)
    assert not inside.broken


def test_a_writer_excludes_readers_and_a_waiting_writer_blocks_new_readers() -> None:
    lock = RWLock()
    events: list[str] = []
    reader_in = threading.Event()

    def first_reader() -> None:
        with lock.read():
            reader_in.set()
            time.sleep(0.1)
            events.append("reader-1 out")

    def writer() -> None:
        with lock.write():
            events.append("writer")

    def late_reader() -> None:
        with lock.read():
            events.append("reader-2")

    t1 = threading.Thread(target=first_reader)
    t1.start()
    reader_in.wait(5)
    t2 = threading.Thread(target=writer)
    t2.start()
    time.sleep(0.03)  # the writer is now waiting
    t3 = threading.Thread(target=late_reader)
    t3.start()
    for t in (t1, t2, t3):
        t.join(timeout=5)
    assert events == ["reader-1 out", "writer", "reader-2"]


@pytest.mark.parametrize("factory", ["Flat", "HNSW32,Flat", "IVF16,Flat"])
def test_concurrent_searches_while_writing_stay_consistent(factory: str) -> None:
    index, docs = ready_index(factory, n=700)
    deleted: set[str] = set()  # published only after apply() returned
    published = threading.Lock()
    errors: list[BaseException] = []
    stop = threading.Event()
    probe = queries(unit_vectors(8, seed=77))
    universe = set(docs) | {f"n{i}" for i in range(2000)}
    searches = [0]

    def writer() -> None:
        for seq in range(2, 80):
            gone = doc_ids(seq * 5)[-5:]
            fresh = dict(
                zip([f"n{seq * 5 + i}" for i in range(5)], unit_vectors(5, seed=seq), strict=True)
            )
            replaced = {f"d{600 + seq}": unit_vectors(1, seed=1000 + seq)[0]}
            index.apply(seq, {**fresh, **replaced}, deletes=gone)
            with published:
                deleted.update(gone)
        stop.set()

    def reader() -> None:
        try:
            while not stop.is_set():
                with published:
                    gone_before = set(deleted)
                for hits in index.search(probe, 20, EXHAUSTIVE):
                    ids = hit_ids(hits)
                    assert not set(ids) & gone_before, "a deleted document came back"
                    assert len(ids) == len(set(ids)), "a replaced document appeared twice"
                    assert set(ids) <= universe
                    scores = [h.score for h in hits]
                    assert scores == sorted(scores, reverse=True)
                searches[0] += 1
        except BaseException as exc:  # surfaced to the test thread below
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=reader) for _ in range(3)] + [
        threading.Thread(target=writer)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors[0]
    assert searches[0] >= 3, "the readers never overlapped the writer"
    assert index.applied_seq == 79
    assert not index.ids() & deleted
    _check_final_state(index, deleted)


def _check_final_state(index: VectorIndex, deleted: set[str]) -> None:
    exported = VectorIndex.from_state(index.export_state())
    assert exported.ids() == index.ids()
    assert len(index) == 700 - len(deleted) + 78 * 5
    assert np.isfinite([h.score for h in index.search(queries(unit_vectors(1)), 5)[0]]).all()
