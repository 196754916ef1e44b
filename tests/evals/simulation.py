"""Simulated per-query recall@10 deltas, shaped like the ones measured on SQuAD.

With one relevant document per query, recall@10 is 0 or 1 on each side, so a paired delta is
-1 (the target lost the document), +1 (it found one the source missed) or, mostly, 0. A
target's true mean delta and the deltas' standard deviation fix the two rates.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import partial
from statistics import median

import numpy as np
import numpy.typing as npt

from evals.judgement import judge_sequentially

MARGIN = 0.02
POOL = 10_000
SEEDS = range(20)


def recall_deltas(
    rng: np.random.Generator, n: int, mean: float, sd: float
) -> npt.NDArray[np.float64]:
    """``n`` deltas in {-1, 0, +1} with the given true mean and standard deviation."""
    second_moment = sd * sd + mean * mean
    lose, gain = (second_moment - mean) / 2, (second_moment + mean) / 2
    if gain < 0 or lose + gain > 1:
        raise ValueError(f"no {{-1, 0, +1}} distribution has mean {mean} and sd {sd}")
    return rng.choice([-1.0, 0.0, 1.0], size=n, p=[lose, 1 - lose - gain, gain])


@dataclass(frozen=True)
class Outcomes:
    decisions: Counter[str]
    median_n: float

    def __getitem__(self, decision: str) -> int:
        return self.decisions[decision]


def _first(pool: npt.NDArray[np.float64], n: int) -> npt.NDArray[np.float64]:
    return pool[:n]


def outcomes(mean: float, sd: float) -> Outcomes:
    """Decisions of the doubling procedure (50 -> 10,000) over 20 seeded pools."""
    decisions: Counter[str] = Counter()
    sizes = []
    for seed in SEEDS:
        pool = recall_deltas(np.random.default_rng(seed), POOL, mean, sd)
        verdict = judge_sequentially(partial(_first, pool), MARGIN, start=50, pool=POOL)
        decisions[verdict.decision] += 1
        sizes.append(verdict.n)
    return Outcomes(decisions, median(sizes))
