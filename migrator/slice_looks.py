"""One look of a sliced recall judgement, pure: what the session and the watchdog decide.

``judge_look`` is what the recall session computes at each look of its schedule (the
overall judgement without the rolled-back slices, each slice's own, and whether it is
done); ``defers`` is the watchdog's rule that an overall failure waits while slices still
routed are judging. The session, the watchdog and the slice benchmark all call these.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from evals import Judgement, judge

from .guardrails import RecallRule
from .slices import SlicePlan, judge_slices


@dataclass(frozen=True)
class Look:
    overall: Judgement  # without the excluded (rolled-back) slices
    slices: dict[str, Judgement]  # {} without slice keys
    done: bool  # no more queries can change a decision still open

    def judging(self, excluded: Collection[str]) -> list[str]:
        """Slices still routed whose own judgement holds."""
        return [s for s, j in self.slices.items() if j.decision == "hold" and s not in excluded]


def judge_look(
    labels: Sequence[str | None],
    deltas: Sequence[float],
    excluded: Collection[str],
    rule: RecallRule,
    slices: SlicePlan | None,
    *,
    looks: int,
    pool: int,
) -> Look:
    """The judgements at a look over the first ``len(deltas)`` queries of a ``pool``."""
    kept = [d for d, label in zip(deltas, labels, strict=True) if label not in excluded]
    overall = judge(
        kept,
        margin=rule.margin,
        confidence=rule.confidence,
        min_samples=min(rule.min_samples, pool),
        max_looks=looks,
    )
    exhausted = len(deltas) >= pool
    done = overall.decision != "hold" or exhausted
    if slices is None:
        return Look(overall, {}, done)
    judged = judge_slices(
        labels,
        deltas,
        min_samples=slices.min_samples,
        margin=rule.margin,
        confidence=rule.confidence,
        max_looks=looks,
    )
    look = Look(overall, judged, done)
    return Look(overall, judged, done and (exhausted or not look.judging(excluded)))


def defers(
    overall: Judgement, judging: Sequence[str], exhausted: bool, plan: SlicePlan | None
) -> bool:
    """An overall failure waits while slices still routed are judging (``on_breach: slice``)."""
    if plan is None or plan.on_breach != "slice":
        return False
    return overall.decision == "fail" and bool(judging) and not exhausted
