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

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np

from evals.judgement import Judgement
from indexes.errors import InvalidInputError

from .as_dict import AsDict

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
class Guardrails(AsDict):
    recall: RecallRule = field(default_factory=RecallRule)
    live_recall: LiveRecallRule = field(default_factory=LiveRecallRule)
    latency: LatencyRule = field(default_factory=LatencyRule)
    errors: ErrorRule = field(default_factory=ErrorRule)
    lag: LagRule = field(default_factory=LagRule)
    overlap: OverlapRule = field(default_factory=OverlapRule)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Guardrails:
        """Defaults overridden by ``data``; unknown names or bad values are InvalidInputError.

        Every setting has a type, a range and finiteness (see ``FIELDS``): an integer
        setting takes an int (not a bool, not a float), and the error names the setting.
        """
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise InvalidInputError("guardrails must be an object")
        result = cls()
        for name, overrides in data.items():
            if name not in {f.name for f in fields(cls)}:
                raise InvalidInputError(f"unknown guardrail {name!r}")
            if not isinstance(overrides, Mapping):
                raise InvalidInputError(f"guardrail {name!r} takes an object of settings")
            rule = getattr(result, name)
            known = {f.name for f in fields(rule)}
            checked: dict[str, Any] = {}
            for key, value in overrides.items():
                if key not in known:
                    raise InvalidInputError(f"guardrail {name!r} has no setting {key!r}")
                checked[key] = FIELDS[name][key].check(f"guardrails.{name}.{key}", value)
            result = replace(result, **{name: replace(rule, **checked)})
        _validate(result)
        return result


MAX_SAMPLES = 1_000_000  # more than any eval set or window holds: a larger one never decides
MAX_WINDOW_S = 3600.0  # the observation windows keep one hour (``observations.Window``)


@dataclass(frozen=True)
class Setting:
    """One guardrail setting's type and range; ``check`` returns the value or refuses it."""

    kind: Literal["int", "number", "bool", "bool_or_null"]
    low: float = 0.0
    high: float = 0.0
    low_open: bool = False  # the range excludes ``low``
    high_open: bool = False  # the range excludes ``high``

    def check(self, where: str, value: object) -> Any:
        if self.kind in ("bool", "bool_or_null"):
            if isinstance(value, bool) or (value is None and self.kind == "bool_or_null"):
                return value
            raise InvalidInputError(f"{where} must be {self.describe()}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInputError(f"{where} must be {self.describe()}, got {value!r}")
        if self.kind == "int" and not isinstance(value, int):
            raise InvalidInputError(f"{where} must be {self.describe()}, got {value!r}")
        if not math.isfinite(value) or not self._within(value):
            raise InvalidInputError(f"{where} must be {self.describe()}, got {value!r}")
        return value if self.kind == "int" else float(value)

    def _within(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def describe(self) -> str:
        if self.kind == "bool":
            return "true or false"
        if self.kind == "bool_or_null":
            return "true, false or null"
        if self.kind == "int":
            return f"an integer from {self.low:.0f} to {self.high:.0f}"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"a finite number in {left}{self.low:g}, {self.high:g}{right}"


def _int(low: int, high: int = MAX_SAMPLES) -> Setting:
    return Setting("int", low, high)


_MARGIN = Setting("number", 0.0, 1.0, high_open=True)
_CONFIDENCE = Setting("number", 0.0, 1.0, low_open=True, high_open=True)
_WINDOW = Setting("number", 0.0, MAX_WINDOW_S, low_open=True)
_SHARE = Setting("number", 0.0, 1.0)

FIELDS: dict[str, dict[str, Setting]] = {
    "recall": {
        "margin": _MARGIN,
        "min_samples": _int(2),
        "confidence": _CONFIDENCE,
        "pool": _int(2),
    },
    "live_recall": {
        "enabled": Setting("bool"),
        "margin": _MARGIN,
        "min_samples": _int(2),
        "confidence": _CONFIDENCE,
        "window_s": _WINDOW,
    },
    "latency": {
        "max_p95_ratio": Setting("number", 0.0, 1000.0, low_open=True),
        "window_s": _WINDOW,
        "min_samples": _int(1),
    },
    "errors": {"max_rate": _SHARE, "window_s": _WINDOW, "min_samples": _int(1)},
    "lag": {
        "max_records": _int(0, 10**12),
        "max_seconds": Setting("number", 0.0, 7 * 86400.0),
    },
    "overlap": {
        "enabled": Setting("bool_or_null"),
        "min_mean": _SHARE,
        "window_s": _WINDOW,
        "min_samples": _int(1),
    },
}


def _validate(rails: Guardrails) -> None:
    """Bounds across settings, and every setting in range (defaults included)."""
    for name, settings in FIELDS.items():
        rule = getattr(rails, name)
        for key, setting in settings.items():
            setting.check(f"guardrails.{name}.{key}", getattr(rule, key))
    if rails.recall.pool < rails.recall.min_samples:
        raise InvalidInputError(
            "guardrails.recall.pool must be at least guardrails.recall.min_samples"
        )


@dataclass(frozen=True)
class Check(AsDict):
    """One guardrail's verdict with the numbers behind it."""

    name: str
    state: State
    observed: float | None
    threshold: float
    n: int
    detail: str


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


# -- the watchdog's own health ---------------------------------------------------------------

FAILSAFE_AFTER = 3  # failed ticks in a row after which reads on the target go back to the source


@dataclass(frozen=True)
class WatchdogHealth:
    """Whether the watchdog can judge: its last tick, and the failures since the last good one.

    ``idle`` until the first tick of a watched phase, ``ok`` after a tick that judged,
    ``failing`` after a tick that raised; checks of earlier ticks are then no evidence.
    """

    state: Literal["idle", "ok", "failing"] = "idle"
    consecutive_failures: int = 0
    failures_total: int = 0
    last_error: str | None = None
    last_tick_at: float | None = None
    last_ok_at: float | None = None

    def succeeded(self, at: float) -> WatchdogHealth:
        return replace(self, state="ok", consecutive_failures=0, last_tick_at=at, last_ok_at=at)

    def failed(self, at: float, error: BaseException) -> WatchdogHealth:
        return replace(
            self,
            state="failing",
            consecutive_failures=self.consecutive_failures + 1,
            failures_total=self.failures_total + 1,
            last_error=f"{type(error).__name__}: {error}",
            last_tick_at=at,
        )

    @property
    def fail_safe(self) -> bool:
        """True once enough ticks in a row failed that the target must stop serving reads."""
        return self.consecutive_failures >= FAILSAFE_AFTER

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failsafe_after": FAILSAFE_AFTER}
