"""A deadline on doubt: what the watchdog does when the recall judgement keeps holding.

A sequential judgement may hold for as long as it likes: a target a little worse than the
margin allows can straddle it until the eval set's pool is used up, and all that time a
canary keeps serving it. The plan's ``inconclusive`` policy (like Argo Rollouts'
inconclusive limit) bounds that: once the pool is exhausted, or ``deadline_s`` seconds
have passed since reads went on the target, and the judge still holds, reads go back to
the source (``action: "rollback"``, the default) or the canary is frozen at 0%
(``action: "freeze"``: reads on the source, the migration waits for the operator). In
shadow nothing is served by the target, so the policy only blocks advancing and says so.

Pure: :func:`decide` maps the policy and the facts of one tick to an outcome; the
watchdog gathers the facts and acts on it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from indexes.errors import InvalidInputError

from .guardrails import Check, State

Action = Literal["rollback", "freeze"]
Act = Literal["none", "wait", "block", "rollback", "freeze"]
ACTIONS: tuple[Action, ...] = ("rollback", "freeze")
MAX_DEADLINE_S = 7 * 86400.0
JUDGES = ("recall", "live_recall")  # the checks whose pass lets a rollout advance
KEYS = ("action", "deadline_s", "on_pool_exhausted")


@dataclass(frozen=True)
class InconclusivePolicy:
    """What an unending hold leads to. ``deadline_s`` None: no deadline, only the pool."""

    action: Action = "rollback"
    deadline_s: float | None = 3600.0
    on_pool_exhausted: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_value(cls, value: object) -> InconclusivePolicy:
        """A policy, or its settings as an object (defaults for those left out); a bad
        name or value is InvalidInputError naming it."""
        if isinstance(value, InconclusivePolicy):
            return value
        if not isinstance(value, Mapping):
            raise InvalidInputError(f"inconclusive must be an object with {list(KEYS)}")
        unknown = sorted(set(value) - set(KEYS))
        if unknown:
            raise InvalidInputError(f"inconclusive has no setting(s) {unknown}; use {list(KEYS)}")
        default = cls()
        return cls(
            _action(value.get("action", default.action)),
            _deadline(value.get("deadline_s", default.deadline_s)),
            _flag(value.get("on_pool_exhausted", default.on_pool_exhausted)),
        )


def _action(value: object) -> Action:
    for action in ACTIONS:
        if value == action:
            return action
    raise InvalidInputError(f"inconclusive.action must be 'rollback' or 'freeze', got {value!r}")


def _deadline(value: object) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= MAX_DEADLINE_S
    ):
        raise InvalidInputError(
            "inconclusive.deadline_s must be null or a number of seconds in"
            f" (0, {MAX_DEADLINE_S:g}], got {value!r}"
        )
    return float(value)


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(
            f"inconclusive.on_pool_exhausted must be true or false, got {value!r}"
        )
    return value


@dataclass(frozen=True)
class Doubt:
    """The facts of one tick: the judge's state, the pool, whether reads are on the target
    and for how long (seconds since reads went on the target in this judgement)."""

    judge: State
    pool_exhausted: bool
    reads_on_target: bool
    on_target_s: float = 0.0
    judged: int = 0  # paired queries judged so far
    pool: int = 0


@dataclass(frozen=True)
class Outcome:
    """What the policy says this tick: ``rollback``/``freeze`` act now; ``block`` means
    advancing is refused; ``wait`` a hold still within its limits; ``none``: no doubt."""

    act: Act
    reason: str

    @property
    def acts(self) -> bool:
        return self.act in ("rollback", "freeze")

    def check(self, policy: InconclusivePolicy) -> Check:
        """The outcome as the watchdog's ``inconclusive`` check (breach when it acts)."""
        state: State = "breach" if self.acts else "ok" if self.act == "none" else "hold"
        threshold = -1.0 if policy.deadline_s is None else policy.deadline_s
        return Check("inconclusive", state, None, threshold, 0, self.reason)


def judge_state(checks: Sequence[Check]) -> State:
    """ok when a recall judge passes, breach when one fails, hold otherwise."""
    states = {c.state for c in checks if c.name in JUDGES}
    if "breach" in states:
        return "breach"
    return "ok" if "ok" in states else "hold"


def decide(policy: InconclusivePolicy, doubt: Doubt) -> Outcome:
    """The policy's answer for one tick."""
    if doubt.judge != "hold":
        return Outcome("none", f"the recall judgement is {doubt.judge}: no doubt to bound")
    why = _limit_reached(policy, doubt)
    if why is None:
        return Outcome("wait", _waiting(policy, doubt))
    if not doubt.reads_on_target:
        return Outcome(
            "block",
            f"inconclusive: {why}; no reads are on the target, so it only blocks advancing"
            " (send override=true to advance anyway, or roll back)",
        )
    if policy.action == "freeze":
        return Outcome("freeze", f"inconclusive: {why}; canary frozen at 0% (reads on the source)")
    return Outcome("rollback", f"inconclusive: {why}; reads rolled back to the source")


def _limit_reached(policy: InconclusivePolicy, doubt: Doubt) -> str | None:
    held = f"the recall judgement still holds after {doubt.judged:,} of {doubt.pool:,} queries"
    if policy.on_pool_exhausted and doubt.pool_exhausted:
        return f"{held}, and the eval set's pool is exhausted"
    deadline = policy.deadline_s
    if doubt.reads_on_target and deadline is not None and doubt.on_target_s >= deadline:
        after = f"{doubt.on_target_s:.0f}s after reads went on the target"
        return f"{held}, {after} (deadline {deadline:g}s)"
    return None


def _waiting(policy: InconclusivePolicy, doubt: Doubt) -> str:
    if not doubt.reads_on_target:
        return "recall holds; no reads on the target, so no deadline runs"
    if policy.deadline_s is None:
        return "recall holds; no deadline set, only the pool's end bounds it"
    left = max(0.0, policy.deadline_s - doubt.on_target_s)
    deadline = f"deadline {policy.deadline_s:g}s"
    return f"recall holds; {left:.0f}s left before the {policy.action} ({deadline})"
