"""Sticky routing: same key, same index; the share is what was asked; it only grows."""

from __future__ import annotations

import random

from migrator.routing import BUCKETS, bucket, routes_to_target


def test_the_same_key_gets_the_same_index_across_1000_calls() -> None:
    for key in ("alice", "bob", "tenant-42", ""):
        decisions = {routes_to_target(25.0, key, migration_id=7) for _ in range(1000)}
        assert len(decisions) == 1


def test_over_100000_keys_the_share_is_within_1_5_points() -> None:
    keys = [f"user-{i}" for i in range(100_000)]
    for percent in (1.0, 5.0, 25.0, 50.0, 90.0):
        share = sum(routes_to_target(percent, k, migration_id=3) for k in keys) / len(keys) * 100
        assert abs(share - percent) <= 1.5, (percent, share)


def test_raising_the_percent_never_moves_a_key_back_to_the_source() -> None:
    keys = [f"k{i}" for i in range(20_000)]
    previous = dict.fromkeys(keys, False)
    for percent in (0.5, 1, 5, 10, 25, 50, 75, 99.9, 100):
        now = {k: routes_to_target(percent, k, migration_id=11) for k in keys}
        assert all(now[k] for k in keys if previous[k])
        previous = now


def test_a_new_migration_reshuffles_the_buckets() -> None:
    keys = [f"k{i}" for i in range(1000)]
    assert [bucket(k, 1) for k in keys] != [bucket(k, 2) for k in keys]
    assert all(0 <= bucket(k, 1) < BUCKETS for k in keys)


def test_without_a_key_each_read_is_a_fresh_draw() -> None:
    rng = random.Random(5)
    share = sum(routes_to_target(30.0, None, 1, rng) for _ in range(20_000)) / 200
    assert abs(share - 30.0) <= 1.5


def test_zero_and_hundred_are_absolute() -> None:
    assert not any(routes_to_target(0, f"k{i}", 1) for i in range(1000))
    assert all(routes_to_target(100, f"k{i}", 1) for i in range(1000))
