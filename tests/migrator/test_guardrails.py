"""Each guardrail: ok, breach, or hold when the window holds too little data (never ok)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from evals import judge
from indexes.errors import InvalidInputError
from migrator.guardrails import (
    ErrorRule,
    Guardrails,
    LagRule,
    LatencyRule,
    OverlapRule,
    error_check,
    from_judgement,
    lag_check,
    latency_check,
    overlap_check,
    verdict,
)


def test_defaults_are_the_documented_thresholds() -> None:
    rails = Guardrails.from_dict(None)
    assert rails.recall.margin == 0.02
    assert rails.latency.max_p95_ratio == 1.3
    assert rails.errors.max_rate == 0.002
    assert rails.overlap.enabled is None


@pytest.mark.parametrize(
    "data",
    [
        {"speed": {}},
        {"recall": {"margn": 0.1}},
        {"recall": 0.1},
        {"recall": {"margin": -0.1}},
        {"recall": {"margin": 1.5}},
        {"recall": {"min_samples": 1}},
        {"latency": {"max_p95_ratio": "fast"}},
        {"overlap": {"enabled": 1}},
    ],
)
def test_bad_guardrail_settings_are_refused(data: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        Guardrails.from_dict(data)


def test_recall_follows_the_judgement_and_holds_without_one() -> None:
    assert from_judgement("recall", None, 0.02).state == "hold"
    assert from_judgement("recall", judge([0.0] * 500, margin=0.02), 0.02).state == "ok"
    assert (
        from_judgement("recall", judge([-1.0] * 100 + [0.0] * 100, margin=0.02), 0.02).state
        == "breach"
    )
    assert from_judgement("recall", judge([0.0] * 5, margin=0.02), 0.02).state == "hold"


def test_latency() -> None:
    rule = LatencyRule(min_samples=10)
    assert latency_check([5.0] * 9, [5.0] * 50, rule).state == "hold"
    assert latency_check([5.0] * 20, [6.0] * 20, rule).state == "ok"
    breach = latency_check([5.0] * 20, [7.0] * 20, rule)
    assert breach.state == "breach"
    assert breach.observed == pytest.approx(1.4)


def test_errors() -> None:
    rule = ErrorRule(min_samples=100)
    assert error_check(99, 50, rule).state == "hold"
    assert error_check(1000, 2, rule).state == "ok"
    assert error_check(1000, 3, rule).state == "breach"


def test_lag() -> None:
    rule = LagRule(max_records=10, max_seconds=5)
    assert lag_check(0, 0.0, rule).state == "ok"
    assert lag_check(11, 0.0, rule).state == "breach"
    assert lag_check(1, 6.0, rule).state == "breach"


def test_overlap_is_off_by_default_when_the_embedder_changes() -> None:
    rule = OverlapRule(min_samples=10)
    low = [0.2] * 50
    assert overlap_check(low, rule, same_embedder=False).state == "ok"
    assert overlap_check(low, rule, same_embedder=True).state == "breach"
    assert overlap_check([0.9] * 5, rule, same_embedder=True).state == "hold"
    forced = OverlapRule(enabled=True, min_samples=10)
    assert overlap_check(low, forced, same_embedder=False).state == "breach"


def test_one_breach_decides_and_ok_needs_every_check_ok() -> None:
    rule = LagRule()
    ok, breach = lag_check(0, 0, rule), lag_check(10**6, 0, rule)
    hold = latency_check([], [], LatencyRule())
    assert verdict([ok, ok]) == "ok"
    assert verdict([ok, hold]) == "hold"
    assert verdict([hold, breach]) == "breach"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"recall": {"pool": 100.0}}, "guardrails.recall.pool"),
        ({"recall": {"min_samples": 2.5}}, "guardrails.recall.min_samples"),
        ({"recall": {"min_samples": True}}, "guardrails.recall.min_samples"),
        ({"recall": {"pool": 10**30}}, "guardrails.recall.pool"),
        ({"errors": {"min_samples": 0}}, "guardrails.errors.min_samples"),
        ({"errors": {"max_rate": float("nan")}}, "guardrails.errors.max_rate"),
        ({"errors": {"max_rate": 2.0}}, "guardrails.errors.max_rate"),
        ({"latency": {"max_p95_ratio": float("inf")}}, "guardrails.latency.max_p95_ratio"),
        ({"latency": {"window_s": 0}}, "guardrails.latency.window_s"),
        ({"latency": {"min_samples": 0}}, "guardrails.latency.min_samples"),
        ({"lag": {"max_records": float("inf")}}, "guardrails.lag.max_records"),
        ({"lag": {"max_seconds": float("nan")}}, "guardrails.lag.max_seconds"),
        ({"overlap": {"min_mean": float("nan")}}, "guardrails.overlap.min_mean"),
        ({"overlap": {"window_s": None}}, "guardrails.overlap.window_s"),
        ({"live_recall": {"confidence": float("nan")}}, "guardrails.live_recall.confidence"),
        ({"live_recall": {"enabled": None}}, "guardrails.live_recall.enabled"),
        ({"live_recall": {"window_s": "900"}}, "guardrails.live_recall.window_s"),
    ],
)
def test_a_setting_of_the_wrong_type_or_out_of_range_is_refused_by_name(
    data: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(field)):
        Guardrails.from_dict(data)


def test_an_integer_setting_names_its_type_and_range() -> None:
    with pytest.raises(InvalidInputError) as refused:
        Guardrails.from_dict({"errors": {"min_samples": 0}})
    assert "guardrails.errors.min_samples must be an integer from 1 to" in str(refused.value)


def test_whole_numbers_are_taken_for_number_settings() -> None:
    rails = Guardrails.from_dict({"lag": {"max_seconds": 30}, "errors": {"max_rate": 0}})
    assert rails.lag.max_seconds == 30.0
    assert rails.errors.max_rate == 0.0
