"""The eval set's power in a migration's plan: enough paired queries for the margin?

Pure. The judge (:mod:`evals.judgement`) decides a paired non-inferiority question: it
passes a target once the interval around the mean per-query delta (target - source) lies
above ``-margin``. An identical target (true delta 0) stands ``margin`` away from that
line, so to pass it with probability ``power`` the eval set needs about

    n = ((z_alpha + z_power) * sd / margin) ** 2

paired queries (normal approximation; :func:`evals.required_samples`), where ``sd`` is the
per-query delta's standard deviation and ``z_alpha`` the judge's own quantile: two-sided
at ``1 - confidence``, split (Bonferroni) over the looks its doubling schedule takes over
this many queries. Never fewer than the judge's ``min_samples`` (below them it holds),
nor than ``z_alpha / margin`` (its Agresti-Min adjustment keeps the interval's half-width
above about ``z_alpha / n``, however alike the answers).

``sd`` is measured when the eval set has stored runs of the same kind (the same truth, and
the embedder changing or not, as here): the largest per-run sd of their recall@10 deltas,
each over at least ``MIN_RUN_PAIRS`` paired queries. Otherwise ``DEFAULT_SD``, chosen to be
conservative: recall@10 deltas with one relevant document are -1, 0 or +1, and an sd of
0.3 is 9% of the queries changing their answer, above the 0.28 measured for a 3-point
drop on SQuAD (README, "A deadline on doubt") and the about 0.2 of MiniLM -> mpnet there.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evals import look_schedule, required_samples

from .as_dict import AsDict

DEFAULT_SD = 0.3
MIN_RUN_PAIRS = 30  # a stored run with fewer paired queries says too little about the sd
DEFAULT_POWER = 0.8
METRIC = "recall@10"


@dataclass(frozen=True)
class EvalPower(AsDict):
    """How many paired queries the eval set has for this pair, and how many it needs."""

    eval_set: str
    truth: str  # qrels, known-item or exact: what the judge will score against
    queries: int  # paired queries the judge can draw (after sampling, within its pool)
    needed: int | None  # to pass an identical target with probability ``power`` (None: margin 0)
    enough: bool
    margin: float
    confidence: float
    power: float
    looks: int  # the judge's looks over ``queries`` (the Bonferroni split)
    sd: float
    sd_source: str  # "measured ..." or "default ..."
    detail: str  # one readable sentence


@dataclass(frozen=True)
class JudgeSettings:
    """The recall rule the migration would be judged with (``RecallRule``'s fields)."""

    margin: float
    confidence: float
    min_samples: int
    pool: int


def run_deltas(report: Mapping[str, Any], metric: str = METRIC) -> list[float]:
    """The finite per-query deltas (target - source) of one stored run's report."""
    deltas = []
    for row in report.get("queries") or []:
        source, target = (row.get(side, {}).get(metric) for side in ("source", "target"))
        if _finite(source) and _finite(target):
            deltas.append(float(target) - float(source))
    return deltas


def measured_sd(runs: Iterable[Sequence[float]]) -> tuple[float, int] | None:
    """The largest sample sd among runs with at least ``MIN_RUN_PAIRS`` deltas, and how
    many runs counted; None when none did."""
    sds = [_sd(deltas) for deltas in runs if len(deltas) >= MIN_RUN_PAIRS]
    return (max(sds), len(sds)) if sds else None


def eval_power(
    eval_set: str,
    truth: str,
    queries: int,
    rule: JudgeSettings,
    sd: tuple[float, int] | None,
    power: float = DEFAULT_POWER,
) -> EvalPower:
    """The eval set's power for the margin (see the module docstring)."""
    value, source = _sd_and_source(sd)
    drawn = min(queries, rule.pool)
    looks = len(look_schedule(min(rule.min_samples, drawn), drawn)) if drawn else 1
    needed = queries_needed(rule, value, looks, power)
    enough = needed is not None and drawn >= needed
    return EvalPower(
        eval_set=eval_set,
        truth=truth,
        queries=drawn,
        needed=needed,
        enough=enough,
        margin=rule.margin,
        confidence=rule.confidence,
        power=power,
        looks=looks,
        sd=round(value, 4),
        sd_source=source,
        detail=_detail(drawn, needed, rule.margin, power),
    )


def queries_needed(rule: JudgeSettings, sd: float, looks: int, power: float) -> int | None:
    """Paired queries to pass an identical target with probability ``power``; None for a
    margin of 0, which no number of queries passes."""
    if rule.margin <= 0:
        return None
    found = required_samples(
        sd, rule.margin, confidence=rule.confidence, max_looks=looks, power=power
    )
    return max(rule.min_samples, found)


def _sd_and_source(sd: tuple[float, int] | None) -> tuple[float, str]:
    if sd is None:
        return DEFAULT_SD, f"default {DEFAULT_SD} (no stored run of this kind to measure)"
    value, runs = sd
    return value, f"measured: the largest of {runs} stored run(s) of this kind"


def _detail(drawn: int, needed: int | None, margin: float, power: float) -> str:
    if needed is None:
        return f"{drawn:,} paired queries; a margin of 0 passes no target: none is enough"
    verdict = "enough" if drawn >= needed else f"too few, {needed - drawn:,} short"
    return (
        f"{drawn:,} paired queries; {needed:,} needed to pass an identical target within"
        f" a {margin:.3f} margin with power {power:.0%}: {verdict}"
    )


def _sd(deltas: Sequence[float]) -> float:
    mean = sum(deltas) / len(deltas)
    return math.sqrt(sum((d - mean) ** 2 for d in deltas) / (len(deltas) - 1))


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
