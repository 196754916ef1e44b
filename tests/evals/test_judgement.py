"""The non-inferiority judge: its rules, its interval, its sentence and its inputs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from evals.judgement import (
    _t_quantile,
    judge,
    look_schedule,
    paired_deltas,
    required_samples,
)
from indexes.errors import InvalidInputError


def test_no_data_holds_and_never_passes() -> None:
    verdict = judge([], margin=0.02)
    assert verdict.decision == "hold"
    assert verdict.n == 0
    assert math.isnan(verdict.mean_delta)
    assert math.isnan(verdict.ci_low)
    assert math.isnan(verdict.ci_high)
    assert verdict.reason == "recall@10: no paired queries yet: hold"


def test_fewer_than_min_samples_holds_even_when_the_target_is_clearly_better() -> None:
    verdict = judge([1.0, 0.0] * 14, margin=0.02, min_samples=30)
    assert verdict.decision == "hold"
    assert verdict.n == 28
    assert verdict.ci_low > -0.02  # the interval alone would have passed
    assert "fewer than the 30 needed" in verdict.reason


def test_a_drop_credibly_smaller_than_the_margin_passes() -> None:
    verdict = judge([0.0] * 990 + [-1.0] * 5 + [1.0] * 5, margin=0.02)
    assert verdict.decision == "pass"
    assert verdict.ci_low > -0.02
    assert verdict.reason.endswith("is above -0.020 with 1,000 paired queries: pass")


def test_a_drop_credibly_larger_than_the_margin_fails() -> None:
    verdict = judge([0.0] * 2_300 + [-1.0] * 100, margin=0.02)
    assert verdict.decision == "fail"
    assert verdict.ci_high < -0.02
    assert verdict.reason == (
        f"recall@10 delta -0.042 [{verdict.ci_low:.3f}, {verdict.ci_high:.3f}] "
        "is below -0.020 with 2,400 paired queries: fail"
    )


def test_an_interval_straddling_the_margin_holds() -> None:
    verdict = judge([0.0] * 192 + [-1.0] * 6 + [1.0] * 2, margin=0.02, metric="ndcg@10")
    assert verdict.decision == "hold"
    assert verdict.ci_low < -0.02 < verdict.ci_high
    assert verdict.reason.startswith("ndcg@10 delta ")
    assert "straddles -0.020" in verdict.reason


def test_more_looks_widen_the_interval() -> None:
    deltas = np.random.default_rng(1).choice([-1.0, 0.0, 1.0], 500, p=[0.05, 0.9, 0.05])
    one, nine, twenty = (judge(deltas, margin=0.02, max_looks=m) for m in (1, 9, 20))
    assert one.ci_high - one.ci_low < nine.ci_high - nine.ci_low < twenty.ci_high - twenty.ci_low


def test_the_interval_matches_the_textbook_t_interval_on_large_samples() -> None:
    deltas = np.random.default_rng(2).normal(-0.01, 0.2, 20_000).clip(-1, 1)
    verdict = judge(deltas, margin=0.02, max_looks=1)
    half = 1.96 * deltas.std(ddof=1) / math.sqrt(len(deltas))
    assert verdict.ci_low == pytest.approx(deltas.mean() - half, abs=2e-4)
    assert verdict.ci_high == pytest.approx(deltas.mean() + half, abs=2e-4)


@pytest.mark.parametrize(
    ("p", "df", "expected"),
    [
        (0.975, 1, 12.706),
        (0.975, 2, 4.303),
        (0.975, 3, 3.182),
        (0.995, 5, 4.032),
        (0.9995, 9, 4.781),
        (0.975, 10, 2.228),
        (0.9995, 30, 3.646),
        (0.975, 120, 1.980),
    ],
)
def test_the_t_quantile_matches_the_published_table(p: float, df: int, expected: float) -> None:
    assert _t_quantile(p, df) == pytest.approx(expected, abs=1e-3)


def test_nan_deltas_are_dropped_as_unjudged_queries() -> None:
    verdict = judge([0.0] * 40 + [math.nan] * 5, margin=0.02)
    assert verdict.n == 40


@pytest.mark.parametrize(
    "kwargs",
    [
        {"margin": -0.01},
        {"margin": 1.0},
        {"margin": 0.02, "confidence": 1.0},
        {"margin": 0.02, "confidence": 0.0},
        {"margin": 0.02, "min_samples": 1},
        {"margin": 0.02, "max_looks": 0},
        {"margin": 0.02, "max_looks": 10_001},
    ],
)
def test_bad_settings_are_invalid_input(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidInputError):
        judge([0.0] * 40, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [1.5, -2.0, math.inf])
def test_deltas_outside_minus_one_to_one_are_invalid_input(bad: float) -> None:
    with pytest.raises(InvalidInputError, match=r"\[-1, 1\]"):
        judge([0.0] * 40 + [bad], margin=0.02)


def test_a_judgement_is_valid_json_with_nan_as_null() -> None:
    record = judge([0.0], margin=0.02).to_dict()
    assert json.loads(json.dumps(record, allow_nan=False)) == record
    assert record["ci_low"] is None
    assert record["decision"] == "hold"
    assert set(record) >= {"n", "mean_delta", "margin", "confidence", "min_samples", "reason"}


def test_paired_deltas_are_target_minus_source_without_unjudged_pairs() -> None:
    deltas = paired_deltas([1.0, 0.0, math.nan, 1.0], [0.0, 1.0, 1.0, math.nan])
    assert deltas.tolist() == [-1.0, 1.0]


def test_paired_deltas_of_different_lengths_are_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="differ in length"):
        paired_deltas([1.0, 0.0], [1.0])


def test_the_doubling_schedule_ends_on_the_pool() -> None:
    assert look_schedule(50, 10_000) == [50, 100, 200, 400, 800, 1600, 3200, 6400, 10_000]
    assert look_schedule(30, 30) == [30]
    with pytest.raises(InvalidInputError):
        look_schedule(0, 100)


def test_required_samples_says_tens_to_confirm_and_thousands_to_tell_a_drop() -> None:
    # DESIGN: confirming a good target takes tens to hundreds; telling 3 points from 2 thousands.
    assert required_samples(0.07, 0.015) < 500
    assert 2_000 < required_samples(0.20, 0.01) < 10_000


def test_required_samples_grows_with_spread_and_looks_and_shrinks_with_distance() -> None:
    base = required_samples(0.2, 0.01)
    assert required_samples(0.28, 0.01) > base
    assert required_samples(0.2, 0.02) < base
    assert required_samples(0.2, 0.01, max_looks=40) > base
    assert required_samples(0.0, 0.01) > 2  # the small-sample guard sets a floor


def test_required_samples_refuses_a_zero_distance() -> None:
    with pytest.raises(InvalidInputError):
        required_samples(0.2, 0.0)
