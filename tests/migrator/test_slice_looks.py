"""One look of a sliced judgement: the overall without rolled-back slices, each slice its own,
and an overall failure that waits while a slice is still being judged."""

from __future__ import annotations

import numpy as np

from evals import judge
from migrator.guardrails import RecallRule
from migrator.slice_looks import defers, judge_look
from migrator.slices import SlicePlan

RULE = RecallRule(margin=0.02, min_samples=50)
PLAN = SlicePlan.from_dict({"keys": ["metadata.lang"], "min_samples": 30})


def sliced(n: int, bad: float = 0.0, seed: int = 0) -> tuple[list[str | None], list[float]]:
    """``n`` queries over three slices; lang=de loses a query with probability ``bad``."""
    rng = np.random.default_rng(seed)
    labels: list[str | None] = [f"lang={rng.choice(['en', 'de', 'fr'])}" for _ in range(n)]
    deltas = [-1.0 if label == "lang=de" and rng.random() < bad else 0.0 for label in labels]
    return labels, deltas


def test_the_overall_is_judged_without_the_excluded_slices() -> None:
    labels, deltas = sliced(600, bad=0.5)
    look = judge_look(labels, deltas, set(), RULE, PLAN, looks=5, pool=600)
    assert look.overall.decision == "fail"
    assert look.slices["lang=de"].decision == "fail"
    without = judge_look(labels, deltas, {"lang=de"}, RULE, PLAN, looks=5, pool=600)
    assert without.overall.decision == "pass"
    assert without.overall.n == sum(label != "lang=de" for label in labels)


def test_a_look_is_not_done_while_a_slice_still_routed_holds() -> None:
    labels, deltas = sliced(60)
    look = judge_look(labels, deltas, set(), RULE, PLAN, looks=5, pool=600)
    assert look.judging(set())  # about 20 pairs a slice: each holds
    assert not look.done
    end = judge_look(labels, deltas, set(), RULE, PLAN, looks=5, pool=60)
    assert end.done  # the pool is used up


def test_an_overall_failure_waits_only_while_slices_judge_and_only_per_slice() -> None:
    failing = judge([-1.0] * 60, margin=0.02, min_samples=30)
    assert defers(failing, ["lang=de"], False, PLAN)
    assert not defers(failing, [], False, PLAN)
    assert not defers(failing, ["lang=de"], True, PLAN)  # the pool is used up
    everything = SlicePlan.from_dict({"keys": ["metadata.lang"], "on_breach": "all"})
    assert not defers(failing, ["lang=de"], False, everything)
    assert not defers(failing, ["lang=de"], False, None)


def test_an_a_a_target_fails_no_slice_in_twenty_seeds() -> None:
    for seed in range(20):
        labels, deltas = sliced(2000, seed=seed)
        noisy = np.random.default_rng(seed + 100)
        # equally good: as many queries gained as lost, in every slice
        deltas = [float(noisy.choice([-1.0, 0.0, 0.0, 0.0, 1.0])) for _ in deltas]
        look = judge_look(labels, deltas, set(), RULE, PLAN, looks=7, pool=2000)
        assert not [s for s, j in look.slices.items() if j.decision == "fail"], seed
