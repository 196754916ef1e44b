"""Shadow reads run off the request path, bounded, and record overlap and latency."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from indexes import Hit, QueryVectors
from migrator import ActionRequest, Switchover
from migrator.filtered_search import Selection
from migrator.shadow import ShadowJob, ShadowReader
from migrator.store import ShadowReadRecord
from tests.migrator.test_lifecycle import backfill, doc, hnsw_target


def job(i: int, served: tuple[str, ...] = ("a", "b")) -> ShadowJob:
    return ShadowJob(1, f"query {i}", 2, "v1", "v2", served, 1.0)


def test_overlap_and_latency_are_recorded_in_batches() -> None:
    recorded: list[ShadowReadRecord] = []

    def search(
        _name: str, _q: str, _k: int, _v: QueryVectors | None, _s: Selection | None
    ) -> tuple[list[Hit], bool]:
        return [Hit("a", 1.0), Hit("c", 0.5)], False

    def record(rows: Sequence[ShadowReadRecord]) -> None:
        recorded.extend(rows)

    reader = ShadowReader(search, record)

    reader.start()
    for i in range(10):
        assert reader.submit(job(i))
    reader.drain()
    reader.close()
    assert len(recorded) == 10
    assert {row.overlap for row in recorded} == {0.5}, "overlap@2 of (a, b) and (a, c)"
    stats = reader.stats()
    assert stats.completed == 10
    assert stats.mean_overlap == 0.5


def test_a_full_queue_drops_samples_instead_of_waiting() -> None:
    release = threading.Event()

    def slow(
        _name: str, _q: str, _k: int, _v: QueryVectors | None, _s: Selection | None
    ) -> tuple[list[Hit], bool]:
        release.wait(5)
        return [], False

    recorded: list[ShadowReadRecord] = []  # never looked at: this test counts drops
    reader = ShadowReader(slow, recorded.extend, maxsize=2)

    reader.start()
    started = time.perf_counter()
    accepted = [reader.submit(job(i)) for i in range(50)]
    assert time.perf_counter() - started < 0.5, "submit never blocks the request"
    assert accepted.count(False) >= 47
    assert reader.stats().dropped == accepted.count(False)
    release.set()
    reader.drain()
    reader.close()


def test_a_failing_shadow_search_is_recorded_as_an_error_not_raised() -> None:
    def broken(
        _name: str, _q: str, _k: int, _v: QueryVectors | None, _s: Selection | None
    ) -> tuple[list[Hit], bool]:
        raise RuntimeError("target exploded")

    rows: list[ShadowReadRecord] = []
    reader = ShadowReader(broken, rows.extend)
    reader.start()
    reader.submit(job(0))
    reader.drain()
    reader.close()
    assert rows[0].error == "RuntimeError: target exploded"
    assert reader.stats().errors == 1


def test_live_searches_in_shadow_phase_are_shadowed_on_the_target(service: Switchover) -> None:
    service.upsert([doc(i) for i in range(100)])
    mid = service.create_migration(hnsw_target(shadow_sample=1.0), "alice").id
    backfill(service, mid)
    service.migration_action(mid, "shadow", ActionRequest(), "alice")
    service.reads.start()  # the shadow reader alone: no other background work here
    for i in range(20):
        assert service.search(f"lamp tide document {i}", 5).served_by == "v1"
    service.reads.shadow.drain()
    reads = service.store.shadow.recent(mid)
    assert len(reads) == 20
    assert all(r.served_by == "v1" and r.error is None and r.migration_id == mid for r in reads)
    assert min(r.overlap or 0.0 for r in reads) >= 0.8, (
        "HNSW over the same vectors agrees with Flat"
    )
    live = service.current_migration().live
    assert live is not None
    assert live.shadow.completed == 20
    assert (live.shadow.mean_overlap or 0.0) >= 0.8


def test_a_shadow_side_that_reused_the_query_vector_is_charged_the_embedding() -> None:
    rows: list[ShadowReadRecord] = []

    def reusing(
        _name: str, _q: str, _k: int, _v: QueryVectors | None, _s: Selection | None
    ) -> tuple[list[Hit], bool]:
        return [Hit("a", 1.0)], True

    reader = ShadowReader(reusing, rows.extend)

    reader.start()
    reader.submit(ShadowJob(1, "q", 1, "v1", "v2", ("a",), 30.0, None, 25.0))
    reader.drain()
    reader.close()
    assert (rows[0].shadow_ms or 0.0) >= 25.0, (
        "shadow latency includes the embedding it did not redo"
    )
