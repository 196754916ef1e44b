"""A rollout, simulated: the watchdog's judgement and the plan's inconclusive policy over a
fixed pool of paired per-query deltas, in simulated time.

The watchdog draws the eval set's queries in their seeded order at ``rate_qps`` and judges
at each look of the doubling schedule (:func:`evals.look_schedule`), exactly as
:class:`migrator.recall.RecallSession` does; a failing look rolls back, a passing one lets
the rollout advance, and while it holds the inconclusive policy
(:func:`migrator.inconclusive.decide`) is asked, between looks too, whether the doubt has
lasted too long. Pure: the decision
quality benchmark and its short form in the tests both run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from evals import judge, look_schedule

from .inconclusive import Doubt, InconclusivePolicy, decide

Start = Literal["shadow", "canary"]
End = Literal["passed", "failed", "rolled_back", "frozen", "blocked", "held"]


@dataclass(frozen=True)
class SimulatedRollout:
    """How one rollout ended: ``passed`` (the target goes on serving or may advance),
    ``failed`` (the judge rolled it back), ``rolled_back``/``frozen`` (the inconclusive
    policy did), ``blocked`` (shadow: it may not advance) or ``held`` (no policy: still
    holding when the pool ran out). ``n`` queries judged, ``seconds`` simulated."""

    end: End
    n: int
    seconds: float

    @property
    def served_after(self) -> bool:
        """Whether reads stay on (or may be put on) the target once it ended."""
        return self.end in ("passed", "held")


def simulate(
    deltas: npt.NDArray[np.float64],
    policy: InconclusivePolicy | None,
    *,
    start: Start = "canary",
    margin: float = 0.02,
    min_samples: int = 50,
    rate_qps: float = 25.0,
) -> SimulatedRollout:
    """One rollout on ``deltas`` in their order; ``policy`` None: holds are never bounded."""
    pool = len(deltas)
    sizes = look_schedule(min(min_samples, pool), pool)
    on_target = start == "canary"
    judged = 0
    for size in sizes:
        reached = size / rate_qps
        if policy is not None and on_target and _past(policy, reached):
            return _bounded(policy, Doubt("hold", False, True, reached, judged, pool), judged)
        judgement = judge(
            deltas[:size], margin=margin, min_samples=min_samples, max_looks=len(sizes)
        )
        judged = size
        if judgement.decision != "hold":
            end: End = "passed" if judgement.decision == "pass" else "failed"
            return SimulatedRollout(end, size, reached)
    if policy is None:
        return SimulatedRollout("held", judged, judged / rate_qps)
    doubt = Doubt("hold", True, on_target, judged / rate_qps if on_target else 0.0, judged, pool)
    return _bounded(policy, doubt, judged)


def _past(policy: InconclusivePolicy, seconds: float) -> bool:
    return policy.deadline_s is not None and seconds > policy.deadline_s


def _bounded(policy: InconclusivePolicy, doubt: Doubt, judged: int) -> SimulatedRollout:
    outcome = decide(policy, doubt)
    seconds = doubt.on_target_s
    if policy.deadline_s is not None and doubt.reads_on_target:
        seconds = min(seconds, policy.deadline_s)
    if outcome.act == "rollback":
        return SimulatedRollout("rolled_back", judged, seconds)
    if outcome.act == "freeze":
        return SimulatedRollout("frozen", judged, seconds)
    if outcome.act == "block":
        return SimulatedRollout("blocked", judged, seconds)
    return SimulatedRollout("held", judged, seconds)
