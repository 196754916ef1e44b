"""The eval set's power in a plan: paired queries it has against the number the margin needs,
n = ((z_alpha + z_power) * sd / margin)^2 with the judge's own alpha split over its looks."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest

from migrator.eval_power import (
    DEFAULT_SD,
    MIN_RUN_PAIRS,
    JudgeSettings,
    eval_power,
    measured_sd,
    run_deltas,
)

RULE = JudgeSettings(margin=0.02, confidence=0.95, min_samples=50, pool=10_000)


def by_hand(sd: float, margin: float, looks: int, power: float = 0.8) -> int:
    z_alpha = NormalDist().inv_cdf(1 - 0.05 / (2 * looks))
    z_power = NormalDist().inv_cdf(power)
    return math.ceil(((z_alpha + z_power) * sd / margin) ** 2)


def test_the_need_is_the_paired_difference_formula_at_the_judges_own_alpha() -> None:
    found = eval_power("sq", "qrels", 600, RULE, None)
    assert found.looks == 5  # 50, 100, 200, 400, 600
    assert found.sd == DEFAULT_SD
    assert found.needed == by_hand(DEFAULT_SD, 0.02, 5)
    assert 2_500 < found.needed < 2_800
    assert not found.enough
    assert f"{found.needed - 600:,} short" in found.detail
    assert found.sd_source.startswith("default")


def test_a_set_with_more_queries_than_needed_is_enough() -> None:
    found = eval_power("sq", "known-item", 5_000, RULE, (0.1, 3))
    assert found.needed == by_hand(0.1, 0.02, 8)
    assert found.enough
    assert found.detail.endswith(": enough")
    assert found.sd_source == "measured: the largest of 3 stored run(s) of this kind"


def test_a_wider_margin_or_a_smaller_spread_needs_fewer_queries() -> None:
    base = eval_power("sq", "qrels", 1_000, RULE, (0.2, 1)).needed
    wider = JudgeSettings(margin=0.04, confidence=0.95, min_samples=50, pool=10_000)
    assert base is not None
    assert (eval_power("sq", "qrels", 1_000, wider, (0.2, 1)).needed or 0) < base
    assert (eval_power("sq", "qrels", 1_000, RULE, (0.1, 1)).needed or 0) < base
    assert (eval_power("sq", "qrels", 1_000, RULE, (0.2, 1), power=0.95).needed or 0) > base


def test_never_fewer_than_the_judges_minimum_nor_its_small_sample_floor() -> None:
    wide = JudgeSettings(margin=0.1, confidence=0.95, min_samples=50, pool=10_000)
    found = eval_power("sq", "qrels", 60, wide, (0.0, 1))
    assert found.needed == 50
    assert found.enough
    # Agresti-Min: the interval's half-width never falls below about z / n
    z_alpha = NormalDist().inv_cdf(1 - 0.05 / (2 * 2))
    assert eval_power("sq", "qrels", 60, RULE, (0.0, 1)).needed == math.ceil(z_alpha / 0.02)


def test_the_judge_draws_at_most_its_pool() -> None:
    small_pool = JudgeSettings(margin=0.02, confidence=0.95, min_samples=50, pool=400)
    found = eval_power("sq", "qrels", 20_000, small_pool, (0.3, 1))
    assert found.queries == 400
    assert found.looks == 4  # 50, 100, 200, 400
    assert not found.enough


def test_no_queries_and_a_zero_margin_are_never_enough() -> None:
    assert not eval_power("sq", "known-item", 0, RULE, None).enough
    zero = JudgeSettings(margin=0.0, confidence=0.95, min_samples=50, pool=10_000)
    found = eval_power("sq", "qrels", 10_000, zero, None)
    assert found.needed is None
    assert not found.enough
    assert "none is enough" in found.detail


def test_the_measured_sd_is_the_largest_of_the_runs_with_enough_pairs() -> None:
    calm = [0.0] * (MIN_RUN_PAIRS - 2) + [1.0, -1.0]
    rough = [0.0] * (MIN_RUN_PAIRS - 10) + [1.0, -1.0] * 5
    too_few = [1.0, -1.0] * 5
    sd, runs = measured_sd([calm, rough, too_few]) or (0.0, 0)
    assert runs == 2
    mean = sum(rough) / len(rough)
    assert sd == pytest.approx(math.sqrt(sum((d - mean) ** 2 for d in rough) / (len(rough) - 1)))
    assert measured_sd([too_few]) is None
    assert measured_sd([]) is None


def test_a_stored_reports_deltas_skip_unjudged_queries() -> None:
    report = {
        "queries": [
            {"source": {"recall@10": 1.0}, "target": {"recall@10": 0.0}},
            {"source": {"recall@10": 0.5}, "target": {"recall@10": 1.0}},
            {"source": {"recall@10": None}, "target": {"recall@10": 1.0}},
            {"source": {"recall@10": float("nan")}, "target": {"recall@10": 1.0}},
            {"source": {}, "target": {"recall@10": 1.0}},
        ]
    }
    assert run_deltas(report) == [-1.0, 0.5]
    assert run_deltas({"status": "failed"}) == []
