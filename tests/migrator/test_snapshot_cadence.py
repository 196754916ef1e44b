"""Snapshot and backfill-checkpoint cadence: amortised-linear, never at the cost of a write.

A snapshot writes the whole index. With a fixed record interval a bulk load of N
documents took N / every_records snapshots of up to N documents each: O(N^2) work. The
cadence now grows with the index (records since the last >= growth_fraction x count) and
waits gap_factor x the last snapshot's duration, so the work stays O(N) and the share of
time bounded. A checkpoint is still what makes a backfill resumable after a crash.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import pytest

from indexes import SnapshotBackend, snapshots
from migrator import ActionRequest, DocumentIn, Settings, Switchover
from migrator import backfill as backfill_module
from migrator.backfill import Backfiller
from migrator.registry import snapshot_due
from migrator.settings import load_settings
from tests.conftest import hash_settings, migration

RATE = 2_500.0  # documents a second through the write path (the scale benchmark's order)
COST_PER_DOC = 10e-6  # seconds a snapshot takes per document it holds (1M: 10 s)


def simulate_load(settings: Settings, n: int, batch: int = 256) -> tuple[int, int, float]:
    """A bulk load of ``n`` documents on a simulated clock, the snapshot loop looking after
    every batch: (snapshots taken, documents written by them in all, their share of the
    time)."""
    taken, written, share, _ = simulate(settings, n, batch)
    return taken, written, share


def simulate(settings: Settings, n: int, batch: int = 256) -> tuple[int, int, float, int]:
    """:func:`simulate_load`, and the longest log tail ever left after the newest snapshot
    (what a crash at the worst moment would have a restart replay)."""
    now = last_end = last_cost = spent = 0.0
    snapshot_seq = taken = written = longest_tail = 0
    for end in range(batch, n + batch, batch):
        applied = min(end, n)
        now += batch / RATE
        longest_tail = max(longest_tail, applied - snapshot_seq)
        if snapshot_due(
            settings,
            since=applied - snapshot_seq,
            count=applied,
            idle_s=now - last_end,
            last_cost_s=last_cost,
        ):
            last_cost = applied * COST_PER_DOC
            now += last_cost
            spent += last_cost
            last_end, snapshot_seq = now, applied
            taken, written = taken + 1, written + applied
    return taken, written, spent / now, longest_tail


def test_the_periodic_rule() -> None:
    s = Settings(home=Path("/nonexistent"))
    assert (s.snapshot_every_records, s.snapshot_growth_fraction, s.snapshot_gap_factor) == (
        5_000,
        0.25,
        4.0,
    )

    def due(since: int, count: int, idle_s: float = 1.0, last_cost_s: float = 0.0) -> bool:
        return snapshot_due(s, since=since, count=count, idle_s=idle_s, last_cost_s=last_cost_s)

    assert not due(0, 1_000, idle_s=10_000), "nothing new, nothing to write"
    assert due(5_000, 10_000), "small index: every_records"
    assert not due(5_000, 100_000), "large index: not yet ..."
    assert due(25_000, 100_000), "... but after a quarter of the index"
    assert due(1, 100_000, idle_s=60.0), "any change, after interval_seconds"
    assert not due(25_000, 100_000, idle_s=3.9, last_cost_s=1.0), "4x the last one's time"
    assert due(25_000, 100_000, idle_s=4.0, last_cost_s=1.0)
    assert s.snapshot_max_tail_records == 50_000
    assert not due(49_999, 1_000_000), "a million documents: a quarter is 250,000 records ..."
    assert due(50_000, 1_000_000), "... but the tail a restart replays is capped"
    assert due(50_000, 1_000_000, idle_s=0.5, last_cost_s=10.0), "whatever the gap says"


def test_the_new_keys_are_read_from_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "switchover.toml").write_text(
        "[snapshots]\nevery_records = 100\ninterval_seconds = 5\n"
        "growth_fraction = 0.1\ngap_factor = 9\nmax_tail_records = 7000\n"
    )
    s = load_settings(tmp_path)
    assert (s.snapshot_every_records, s.snapshot_interval_seconds) == (100, 5.0)
    assert (s.snapshot_growth_fraction, s.snapshot_gap_factor) == (0.1, 9.0)
    assert s.snapshot_max_tail_records == 7_000


def test_a_load_ten_times_larger_takes_a_few_more_snapshots_not_ten_times_as_many() -> None:
    # the growth rule alone: the tail cap (its own test below) lifted
    s = Settings(home=Path("/nonexistent"), snapshot_max_tail_records=10**9)
    fixed = Settings(
        home=Path("/nonexistent"),
        snapshot_growth_fraction=0,
        snapshot_gap_factor=0,
        snapshot_max_tail_records=10**9,
    )
    old_100k, old_written, _ = simulate_load(fixed, 100_000)
    assert old_100k >= 18, "the old cadence: every 5,000 records"
    assert old_written > 9 * 100_000, "... each writing the whole index: quadratic"
    counts = {}
    for n in (100_000, 1_000_000, 10_000_000):
        counts[n], written, share = simulate_load(s, n)
        assert written <= 10 * n, f"{n}: snapshot work stays linear in the load ({written})"
        assert share <= 1 / (s.snapshot_gap_factor + 1) + 0.01, f"{n}: {share:.3f} of the time"
    assert counts[100_000] < old_100k / 2, counts
    assert counts[1_000_000] - counts[100_000] <= 12, counts  # ~log(10) / log(1.25) more
    assert counts[10_000_000] < 60, f"{counts}: vs ~2,000 with a fixed record interval"


def test_the_tail_left_after_the_newest_snapshot_never_passes_the_cap() -> None:
    s = Settings(home=Path("/nonexistent"))
    uncapped = Settings(home=Path("/nonexistent"), snapshot_max_tail_records=10**9)
    _, _, _, tail_before = simulate(uncapped, 1_000_000)
    assert tail_before > 100_000, "growth alone: up to a quarter of the index"
    taken, written, share, tail = simulate(s, 1_000_000)
    assert tail <= s.snapshot_max_tail_records + 256, tail  # at most one batch past it
    # the price, at writes as fast as the bulk load's (2,500/s) and 10 s per 1M-doc
    # snapshot: more snapshots, a larger share of the time than the gap rule's 1/5
    assert taken > 15, taken
    assert share < 0.25, share
    assert written < 11 * 1_000_000, written


def test_through_the_registry_snapshots_grow_with_the_index_and_a_crash_loses_nothing(
    tmp_path: Path,
) -> None:
    settings = hash_settings(
        tmp_path / "home",
        snapshot_every_records=100,
        snapshot_interval_seconds=1e9,
        snapshot_gap_factor=0.0,  # the time rule has its own test; here counts are exact
    )
    svc = Switchover(settings)
    runtime = svc.runtime("v1")
    taken = []
    for start in range(0, 2_000, 50):
        svc.upsert([DocumentIn(f"d{i:05d}", f"tide lamp {i}") for i in range(start, start + 50)])
        info = svc.registry.snapshot(runtime, force=False)
        if info is not None:
            taken.append(info.count)
    # fixed every 100 records: 20; growing by a quarter from 400: 100, 200, 300, 400, 500, ...
    assert taken[:4] == [100, 200, 300, 400]
    assert len(taken) <= 12, taken
    assert all(b >= a * 1.25 for a, b in itertools.pairwise(taken[3:])), taken
    svc.close(snapshot=False)  # a crash: writes after the last snapshot live in the log only

    again = Switchover(settings)
    try:
        assert again.registry.recovery["v1"]["snapshot_seq"] == taken[-1]
        assert again.registry.recovery["v1"]["replayed_records"] == 2_000 - taken[-1]
        assert len(again.runtime("v1").index) == 2_000
    finally:
        again.close(snapshot=False)


def load(svc: Switchover, n: int) -> None:
    for start in range(0, n, 200):
        svc.upsert(
            [DocumentIn(f"d{i:04d}", f"harbour pilot {i}") for i in range(start, start + 200)]
        )


@pytest.fixture
def slow_checkpoints(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float]]:
    """Checkpoints that take 50 ms each, with no 5-second floor: the gap rule decides.

    Records (index name, seconds) of every snapshot written.
    """
    monkeypatch.setattr(backfill_module, "CHECKPOINT_SECONDS", 0.0)
    real = snapshots.write_snapshot
    durations: list[tuple[str, float]] = []

    def slow(index: SnapshotBackend, *args: Any, **kwargs: Any) -> Any:
        began = time.monotonic()
        time.sleep(0.05)
        try:
            return real(index, *args, **kwargs)
        finally:
            durations.append((index.spec.name, time.monotonic() - began))

    monkeypatch.setattr("migrator.registry.write_snapshot", slow)
    return durations


def slow_copies(monkeypatch: pytest.MonkeyPatch, svc: Switchover, per_batch_s: float) -> None:
    target = svc.runtime("v2")
    embed = target.embed_documents

    def slow(texts: list[str]) -> Any:
        time.sleep(per_batch_s)
        return embed(texts)

    monkeypatch.setattr(target, "embed_documents", slow)


def test_backfill_checkpoints_wait_a_multiple_of_their_own_duration(
    settings: Settings, slow_checkpoints: list[tuple[str, float]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backfill_module, "ENCODE_WINDOW", 10)  # a window per batch
    svc = Switchover(settings)
    try:
        load(svc, 400)
        mid = svc.create_migration(migration("v2", backfill_batch=10), "tester").id
        slow_copies(monkeypatch, svc, 0.02)  # 40 batches, 0.8 s of copying
        began = time.monotonic()
        svc.migration_action(mid, "backfill", ActionRequest(), "tester")
        assert svc.wait_backfill(timeout=60).finished
        elapsed = time.monotonic() - began
        checkpoints = [name for name, _ in slow_checkpoints]
        assert set(checkpoints) == {"v2"}, "only the backfill's checkpoints snapshot here"
        # checkpointing after every batch would take 40; gap >= 4 x 50 ms allows ~0.8 / 0.25
        assert 2 <= len(checkpoints) <= 8, checkpoints
        spent = sum(seconds for _, seconds in slow_checkpoints)
        assert spent <= 0.5 * elapsed, (slow_checkpoints, elapsed)
        assert len(svc.runtime("v2").index) == 400
    finally:
        svc.close(snapshot=False)


class CrashError(RuntimeError):
    """The process dies here: nothing after it runs, nothing in memory survives."""


def test_a_backfill_crashing_between_checkpoints_resumes_from_the_last_one(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backfill_module, "CHECKPOINT_SECONDS", 0.0)  # checkpoints come often
    monkeypatch.setattr(backfill_module, "ENCODE_WINDOW", 10)  # ... after every batch
    svc = Switchover(settings)
    load(svc, 400)
    mid = svc.create_migration(migration("v2", backfill_batch=10), "tester").id
    slow_copies(monkeypatch, svc, 0.02)
    save = Backfiller.save
    saved: list[int] = []

    def dies_at_the_third(self: Backfiller) -> None:
        if len(saved) == 2:
            raise CrashError
        save(self)
        saved.append(self.state.done)

    monkeypatch.setattr(Backfiller, "save", dies_at_the_third)
    svc.migration_action(mid, "backfill", ActionRequest(), "tester")
    assert not svc.wait_backfill(timeout=60).finished, "it died on the way"
    svc.close(snapshot=False)
    monkeypatch.undo()
    assert len(saved) == 2, saved
    assert 0 < saved[-1] < 400, "the crash came in the middle of the backfill"

    run = Backfiller.run
    resumed_at: list[int] = []

    def recorded(self: Backfiller) -> Any:
        resumed_at.append(self.state.done)
        return run(self)

    monkeypatch.setattr(Backfiller, "run", recorded)
    again = Switchover(settings)
    again.start()  # the backfill resumes
    try:
        assert again.wait_backfill(timeout=60).finished
        # resumed at the last checkpoint's cursor; its copies came back from its snapshot
        assert resumed_at == [saved[-1]]
        status = again.current_migration().backfill
        assert status.done == 400, status
        assert again.runtime("v2").index.ids() == again.store.log.document_ids()
    finally:
        again.close(snapshot=False)
