"""Guardrails: pure checks of a migration's evidence. Each says ok, breach or hold.

Every guardrail has a window and a minimum sample; too little data means "hold",
never "ok". One breach is enough for the watchdog to roll reads back.

    recall       labelled eval set (or exact truth), paired non-inferiority vs a margin
    live_recall  live shadow reads against exact truth (source Flat, same embedder)
    latency      target p95 / source p95 over the window
    errors       target error rate over the window
    lag          target write lag (records and seconds)
    overlap      mean shadow overlap@k (off by default when the embedder changes)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np

from evals.judgement import Judgement
from indexes.errors import InvalidInputError

State = Literal["ok", "breach", "hold"]


@dataclass(frozen=True)
class RecallRule:
    margin: float = 0.02  # a 2-point recall@10 drop is tolerated, no more
    min_samples: int = 50
    confidence: float = 0.95
    pool: int = 10_000  # at most this many eval-set queries are drawn


@dataclass(frozen=True)
class LiveRecallRule:
    enabled: bool = True  # applies only where exact truth is at hand (source Flat, same model)
    margin: float = 0.02
    min_samples: int = 100
    confidence: float = 0.95
    window_s: float = 900.0


@dataclass(frozen=True)
class LatencyRule:
    max_p95_ratio: float = 1.3
    window_s: float = 300.0
    min_samples: int = 50


@dataclass(frozen=True)
class ErrorRule:
    max_rate: float = 0.002
    window_s: float = 300.0
    min_samples: int = 200


@dataclass(frozen=True)
class LagRule:
    max_records: int = 5_000
    max_seconds: float = 60.0


@dataclass(frozen=True)
class OverlapRule:
    enabled: bool | None = None  # None: on for a layout-only change, off when the model changes
    min_mean: float = 0.6
    window_s: float = 300.0
    min_samples: int = 50


@dataclass(frozen=True)
class Guardrails:
    recall: RecallRule = field(default_factory=RecallRule)
    live_recall: LiveRecallRule = field(default_factory=LiveRecallRule)
    latency: LatencyRule = field(default_factory=LatencyRule)
    errors: ErrorRule = field(default_factory=ErrorRule)
    lag: LagRule = field(default_factory=LagRule)
    overlap: OverlapRule = field(default_factory=OverlapRule)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Guardrails:
        """Defaults overridden by ``data``; unknown names or bad values are InvalidInputError."""
        result = cls()
        for name, overrides in (data or {}).items():
            if name not in {f.name for f in fields(cls)}:
                raise InvalidInputError(f"unknown guardrail {name!r}")
            if not isinstance(overrides, Mapping):
                raise InvalidInputError(f"guardrail {name!r} takes an object of settings")
            rule = getattr(result, name)
            known = {f.name: f for f in fields(rule)}
            for key, value in overrides.items():
                if key not in known:
                    raise InvalidInputError(f"guardrail {name!r} has no setting {key!r}")
                if key == "enabled":
                    if value is not None and not isinstance(value, bool):
                        raise InvalidInputError(f"{name}.enabled must be true, false or null")
                elif isinstance(value, bool) or not isinstance(value, int | float):
                    raise InvalidInputError(f"{name}.{key} must be a number")
                elif value < 0:
                    raise InvalidInputError(f"{name}.{key} must not be negative")
            result = replace(result, **{name: replace(rule, **dict(overrides))})
        _validate(result)
        return result

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _validate(rails: Guardrails) -> None:
    """Bounds that keep every judgement well defined."""
    for rule in (rails.recall, rails.live_recall):
        if not 0 <= rule.margin < 1:
            raise InvalidInputError(f"recall margin must be in [0, 1), got {rule.margin}")
        if not 0 < rule.confidence < 1:
            raise InvalidInputError(f"confidence must be in (0, 1), got {rule.confidence}")
        if rule.min_samples < 2:
            raise InvalidInputError("a recall guardrail needs min_samples >= 2")
    if rails.recall.pool < 2:
        raise InvalidInputError("recall.pool must be at least 2")


@dataclass(frozen=True)
class Check:
    """One guardrail's verdict with the numbers behind it."""

    name: str
    state: State
    observed: float | None
    threshold: float
    n: int
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def from_judgement(name: str, judgement: Judgement | None, margin: float) -> Check:
    """A recall judgement as a check: pass -> ok, fail -> breach, hold -> hold."""
    if judgement is None:
        return Check(name, "hold", None, -margin, 0, "no judgement yet")
    decision = judgement.decision
    state: State = "ok" if decision == "pass" else "breach" if decision == "fail" else "hold"
    observed = None if np.isnan(judgement.mean_delta) else judgement.mean_delta
    return Check(name, state, observed, -margin, judgement.n, judgement.reason)


def latency_check(
    source_ms: Sequence[float], target_ms: Sequence[float], rule: LatencyRule
) -> Check:
    n = min(len(source_ms), len(target_ms))
    if n < rule.min_samples:
        return Check(
            "latency",
            "hold",
            None,
            rule.max_p95_ratio,
            n,
            f"{len(source_ms)} source and {len(target_ms)} target timings in the window;"
            f" {rule.min_samples} each needed",
        )
    ratio = float(np.percentile(target_ms, 95) / max(1e-9, np.percentile(source_ms, 95)))
    state: State = "breach" if ratio > rule.max_p95_ratio else "ok"
    return Check(
        "latency",
        state,
        round(ratio, 3),
        rule.max_p95_ratio,
        n,
        f"target p95 is {ratio:.2f}x the source's (limit {rule.max_p95_ratio}x)",
    )


def error_check(requests: int, errors: int, rule: ErrorRule) -> Check:
    if requests < rule.min_samples:
        return Check(
            "errors",
            "hold",
            None,
            rule.max_rate,
            requests,
            f"{requests} target requests in the window; {rule.min_samples} needed",
        )
    rate = errors / requests
    state: State = "breach" if rate > rule.max_rate else "ok"
    return Check(
        "errors",
        state,
        round(rate, 5),
        rule.max_rate,
        requests,
        f"{errors} of {requests} target requests failed ({rate:.2%}; limit {rule.max_rate:.2%})",
    )


def lag_check(records: int, seconds: float, rule: LagRule) -> Check:
    breach = records > rule.max_records or seconds > rule.max_seconds
    return Check(
        "lag",
        "breach" if breach else "ok",
        float(records),
        float(rule.max_records),
        records,
        f"target is {records} records / {seconds:.1f}s behind the log"
        f" (limits {rule.max_records} records, {rule.max_seconds:.0f}s)",
    )


def overlap_check(overlaps: Sequence[float], rule: OverlapRule, same_embedder: bool) -> Check:
    enabled = same_embedder if rule.enabled is None else rule.enabled
    if not enabled:
        return Check(
            "overlap",
            "ok",
            None,
            rule.min_mean,
            len(overlaps),
            "off: a new embedder legitimately disagrees with the old one",
        )
    if len(overlaps) < rule.min_samples:
        return Check(
            "overlap",
            "hold",
            None,
            rule.min_mean,
            len(overlaps),
            f"{len(overlaps)} shadow reads in the window; {rule.min_samples} needed",
        )
    mean = float(np.mean(overlaps))
    state: State = "breach" if mean < rule.min_mean else "ok"
    return Check(
        "overlap",
        state,
        round(mean, 4),
        rule.min_mean,
        len(overlaps),
        f"mean shadow overlap {mean:.3f} (floor {rule.min_mean})",
    )


def verdict(checks: Sequence[Check]) -> State:
    """breach if any breaches; ok only if every check is ok; hold otherwise."""
    states = {c.state for c in checks}
    if "breach" in states:
        return "breach"
    return "ok" if states <= {"ok"} else "hold"
