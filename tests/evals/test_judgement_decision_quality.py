"""Decision quality of the sequential judge on simulated recall@10 deltas (margin 0.02).

Each scenario runs the doubling procedure (50, 100, ..., 6,400, 10,000 paired queries, stopping
at the first answer that is not "hold") on 20 seeded pools. Standard deviations follow the
SQuAD measurements: 0.07 for a 0.5-point drop (HNSW) up to 0.28 for an 8.5-point drop (IVF).
"""

from __future__ import annotations

import numpy as np
import pytest

from evals.judgement import judge, judge_sequentially

from .simulation import MARGIN, outcomes, recall_deltas


@pytest.mark.parametrize(
    ("mean", "sd"),
    [
        (-0.03, 0.18),  # loses ~3% of queries, gains almost none
        (-0.03, 0.20),  # loses 3.5%, gains 0.5%
        (-0.05, 0.24),
        (-0.085, 0.28),  # the IVF64 nprobe 4 measurement
    ],
)
def test_a_target_three_points_worse_or_more_ends_in_fail(mean: float, sd: float) -> None:
    result = outcomes(mean, sd)
    assert result["fail"] >= 19
    assert result["pass"] == 0


def test_a_high_churn_three_point_drop_never_passes_and_mostly_fails() -> None:
    # sd 0.28 at a 3-point drop puts the margin 3.6 standard errors away even at 10,000
    # queries: no valid sequential interval resolves that every time. The unresolved seeds
    # end on "hold" (safe: reads stay on the source), never on "pass".
    result = outcomes(-0.03, 0.28)
    assert result["pass"] == 0
    assert result["fail"] >= 14


def test_an_identical_target_passes_quickly_and_never_fails() -> None:
    result = outcomes(0.0, 0.0)
    assert result["pass"] == 20
    assert result.median_n <= 200


@pytest.mark.parametrize("sd", [0.10, 0.28])
def test_an_equally_good_target_with_per_query_churn_rarely_fails(sd: float) -> None:
    result = outcomes(0.0, sd)
    assert result["fail"] <= 1
    assert result["pass"] >= 15


def test_a_half_point_drop_with_low_spread_passes_in_most_seeds() -> None:
    result = outcomes(-0.005, 0.071)
    assert result["pass"] >= 15
    assert result["fail"] == 0


def test_a_target_exactly_at_the_margin_rarely_passes() -> None:
    assert outcomes(-MARGIN, 0.20)["pass"] <= 1


def test_fifty_unchanged_queries_do_not_pass_a_target() -> None:
    # A target losing 3% of queries shows fifty zero deltas 22% of the time; a plain t
    # interval would have zero width there and pass it.
    assert judge(np.zeros(50), margin=MARGIN).decision == "hold"


def test_the_sequential_judge_stops_at_the_first_decision() -> None:
    pool = recall_deltas(np.random.default_rng(7), 10_000, -0.085, 0.28)
    asked: list[int] = []

    def draw(n: int) -> np.ndarray:
        asked.append(n)
        return pool[:n]

    verdict = judge_sequentially(draw, MARGIN)
    assert verdict.decision == "fail"
    assert asked == [50, 100, 200, 400, 800, 1600, 3200, 6400, 10_000][: len(asked)]
    assert verdict.n == asked[-1] < 10_000
    assert verdict.max_looks == 9


def test_the_sequential_judge_holds_when_the_pool_runs_out() -> None:
    verdict = judge_sequentially(lambda n: np.zeros(min(n, 120)), MARGIN, start=50, pool=400)
    assert verdict.decision == "hold"
    assert verdict.n == 120
