"""Decision quality with the deadline, short form: the seeded rollout simulation.

The full run (20 seeds per row, real SQuAD deltas too) is ``make bench-deadline``
(benchmarks/results/decision_quality_deadline.md); this is what must never regress.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from migrator.inconclusive import InconclusivePolicy
from migrator.rollout_sim import simulate
from tests.evals.simulation import recall_deltas

SEEDS = range(20)


def ends(
    mean: float, sd: float, policy: InconclusivePolicy | None, start: str = "canary"
) -> Counter[str]:
    found: Counter[str] = Counter()
    for seed in SEEDS:
        pool = recall_deltas(np.random.default_rng(seed), 10_000, mean, sd)
        found[simulate(pool, policy, start="shadow" if start == "shadow" else "canary").end] += 1
    return found


def test_a_target_three_points_worse_never_passes_and_never_keeps_serving() -> None:
    for sd in (0.18, 0.28):
        for policy in (InconclusivePolicy(), InconclusivePolicy(deadline_s=300.0)):
            found = ends(-0.03, sd, policy)
            assert found["passed"] == 0, (sd, policy, found)
            assert found["failed"] + found["rolled_back"] == 20, (sd, policy, found)


def test_without_the_policy_some_of_those_canaries_hold_on_serving() -> None:
    # the measurement: 4 of 20 hold at sd 0.28 with a 10,000-query pool
    found = ends(-0.03, 0.28, None)
    assert found["passed"] == 0
    assert found["held"] >= 1


def test_in_shadow_a_worse_target_is_never_served() -> None:
    found = ends(-0.03, 0.28, InconclusivePolicy(), start="shadow")
    assert found["failed"] + found["blocked"] == 20


def test_an_identical_target_is_rolled_back_at_most_once_in_twenty() -> None:
    for sd in (0.0, 0.10, 0.28):
        found = ends(0.0, sd, InconclusivePolicy(deadline_s=300.0))
        assert found["failed"] + found["rolled_back"] <= 1, (sd, found)


def test_the_deadline_fires_between_looks_with_reads_on_the_target() -> None:
    undecided = np.zeros(10_000)  # with margin 0 an all-zero pool can only hold
    run = simulate(undecided, InconclusivePolicy(deadline_s=10.0), margin=0.0, rate_qps=25.0)
    assert (run.end, run.seconds) == ("rolled_back", 10.0)
    assert run.n == 200  # the look at 400 queries would come after 16 s
    frozen = simulate(undecided, InconclusivePolicy("freeze", None), margin=0.0)
    assert (frozen.end, frozen.n) == ("frozen", 10_000)
    assert simulate(undecided, None, margin=0.0).end == "held"
    assert (
        simulate(undecided, InconclusivePolicy(deadline_s=1.0), start="shadow", margin=0.0).end
        == "blocked"
    )
