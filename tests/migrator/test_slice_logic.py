"""The pure slice logic: keys, labels, shares and per-slice judgements."""

from __future__ import annotations

import math

import pytest

from indexes.errors import InvalidInputError
from indexes.filters import parse_filter
from migrator.routing import routes_to_target
from migrator.slices import (
    SliceKey,
    SlicePlan,
    breached,
    check_fields,
    check_label,
    judge_slices,
    pinned_value,
    slice_statuses,
)

LANG = SlicePlan.from_dict({"keys": ["metadata.lang"]})
TWO = SlicePlan.from_dict({"keys": ["metadata.lang", "request.tenant"], "min_samples": 5})


def test_slice_keys_name_their_form() -> None:
    assert SliceKey.parse("metadata.lang") == SliceKey("metadata", "lang")
    assert SliceKey.parse("request.tenant") == SliceKey("request", "tenant")
    assert str(SliceKey.parse("request.tenant")) == "request.tenant"


@pytest.mark.parametrize("bad", ["lang", "header.lang", "metadata.", "metadata.a b", 3, None])
def test_an_unknown_slice_key_form_is_refused(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="slice key"):
        SliceKey.parse(bad)


def test_a_plan_round_trips_through_its_stored_form() -> None:
    plan = TWO.rolling_back("lang=de,tenant=acme")
    assert SlicePlan.from_dict(plan.to_dict()) == plan
    assert plan.to_dict()["keys"] == ["metadata.lang", "request.tenant"]
    assert LANG.min_samples == 30
    assert LANG.on_breach == "slice"


def test_a_metadata_key_takes_the_clients_field_or_the_value_its_filter_pins() -> None:
    assert LANG.label({"lang": "de"}) == "lang=de"
    assert LANG.label(None, parse_filter({"lang": "fr"})) == "lang=fr"
    assert LANG.label(None, parse_filter({"and": [{"lang": "fr"}, {"year": 3}]})) == "lang=fr"
    assert LANG.label({"lang": "de"}, parse_filter({"lang": "fr"})) == "lang=de"


def test_a_query_without_a_value_for_every_key_has_no_slice() -> None:
    assert LANG.label(None) is None
    assert LANG.label(None, parse_filter({"lang": {"in": ["de", "fr"]}})) is None
    assert LANG.label(None, parse_filter({"or": [{"lang": "de"}, {"lang": "fr"}]})) is None
    assert TWO.label({"lang": "de"}) is None  # the tenant is missing
    # a request field is never read from the filter
    assert TWO.label({"lang": "de"}, parse_filter({"tenant": "acme"})) is None
    assert TWO.label({"lang": "de", "tenant": "acme"}) == "lang=de,tenant=acme"


def test_pinned_value_needs_one_string_equality() -> None:
    assert pinned_value(parse_filter({"and": [{"lang": "de"}, {"lang": "fr"}]}), "lang") is None
    assert pinned_value(parse_filter({"lang": 3}), "lang") is None
    assert pinned_value(None, "lang") is None


def test_a_rolled_back_slice_routes_nothing_and_the_others_keep_the_share() -> None:
    plan = LANG.rolling_back("lang=de")
    assert plan.share("lang=de", 25.0) == 0.0
    assert plan.share("lang=en", 25.0) == 25.0
    assert plan.share(None, 25.0) == 25.0
    assert plan.rolling_back("lang=de") == plan
    keys = [f"user-{i}" for i in range(2000)]
    on_target = [k for k in keys if routes_to_target(plan.share("lang=en", 25.0), k, 7)]
    assert 400 <= len(on_target) <= 600
    assert not any(routes_to_target(plan.share("lang=de", 25.0), k, 7) for k in keys)


@pytest.mark.parametrize(
    "bad",
    [
        {"a": "1", "b": "2", "c": "3", "d": "4"},
        {"lang": 3},
        {"lang": ""},
        {"lang": "d e"},
        {"1x": "de"},
        {},
        ["lang", "de"],
        "lang=de",
    ],
)
def test_malformed_slice_fields_are_refused(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        check_fields(bad)


def test_slice_labels_are_checked() -> None:
    assert check_label("lang=de,tenant=acme") == "lang=de,tenant=acme"
    for bad in ["de", "lang=", "=de", "a=1,b=2,c=3,d=4", 5, "lang=d e"]:
        with pytest.raises(InvalidInputError, match="slice label"):
            check_label(bad)


def test_each_slice_is_judged_on_its_own_deltas_with_its_own_minimum() -> None:
    labels = ["lang=de"] * 60 + ["lang=en"] * 200 + ["lang=fr"] * 4 + [None] * 10
    deltas = [-1.0] * 60 + [0.0] * 200 + [-1.0] * 4 + [-1.0] * 10
    judged = judge_slices(labels, deltas, min_samples=30, margin=0.02, confidence=0.95, max_looks=5)
    assert set(judged) == {"lang=de", "lang=en", "lang=fr"}  # no slice: judged overall only
    assert judged["lang=de"].decision == "fail"
    assert judged["lang=en"].decision == "pass"
    assert judged["lang=fr"].decision == "hold"  # four pairs: too few, never a pass
    assert judged["lang=de"].n == 60
    assert breached(judged, ()) == ["lang=de"]
    assert breached(judged, ("lang=de",)) == []


def test_unjudged_queries_count_for_no_slice() -> None:
    judged = judge_slices(
        ["a=1", "a=1"], [math.nan, 0.0], min_samples=2, margin=0.02, confidence=0.95, max_looks=1
    )
    assert judged["a=1"].n == 1


def test_statuses_list_every_slice_judged_or_rolled_back() -> None:
    plan = LANG.rolling_back("lang=xx")
    judged = judge_slices(
        ["lang=de"] * 3, [0.0] * 3, min_samples=30, margin=0.02, confidence=0.95, max_looks=1
    )
    statuses = slice_statuses(plan, 50.0, judged)
    assert [(s.label, s.target_share, s.rolled_back) for s in statuses] == [
        ("lang=de", 50.0, False),
        ("lang=xx", 0.0, True),
    ]
    assert statuses[1].to_dict()["judgement"] is None
