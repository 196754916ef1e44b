"""The filter language: what parses into which tree, what is refused and why, what matches."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexes.errors import InvalidInputError
from indexes.filters import And, Eq, FilterLimits, In, Not, Or, Range, parse_filter


def test_plain_equality_is_written_as_key_and_value() -> None:
    assert parse_filter({"lang": "de"}) == Eq("lang", "de")
    assert parse_filter({"lang": {"eq": "de"}}) == Eq("lang", "de")


def test_operators_parse_into_typed_nodes() -> None:
    assert parse_filter({"lang": {"in": ["de", "fr"]}}) == In("lang", ("de", "fr"))
    assert parse_filter({"year": {"gte": 2020, "lt": 2024}}) == Range("year", gte=2020, lt=2024)
    assert parse_filter({"not": {"lang": "de"}}) == Not(Eq("lang", "de"))
    assert parse_filter({"or": [{"a": 1}, {"b": True}]}) == Or((Eq("a", 1), Eq("b", True)))


def test_several_keys_in_one_object_all_hold() -> None:
    assert parse_filter({"lang": "de", "year": {"gt": 1}}) == And(
        (Eq("lang", "de"), Range("year", gt=1))
    )


MALFORMED: list[tuple[Any, str]] = [
    ({}, "filter: a filter is a non-empty JSON object"),
    ([], "filter: a filter is a non-empty JSON object"),
    ("de", "filter: a filter is a non-empty JSON object"),
    ({"lang": None}, "filter.lang: a value is a string, a number or a boolean, not null"),
    ({"lang": ["de"]}, "filter.lang: a value is a string, a number or a boolean, not a list"),
    ({"lang": {"in": []}}, "filter.lang.in: 'in' takes a non-empty list of values"),
    ({"lang": {"in": "de"}}, "filter.lang.in: 'in' takes a non-empty list of values"),
    ({"lang": {"in": [{"x": 1}]}}, "filter.lang.in[0]: a value is a string"),
    ({"lang": {"like": "d%"}}, "filter.lang: unknown operator 'like'"),
    ({"lang": {}}, "filter.lang: an operator object needs one of"),
    ({"year": {"gt": "2020"}}, "filter.year.gt: a range bound is a number, not a string"),
    ({"year": {"gt": True}}, "filter.year.gt: a range bound is a number, not a boolean"),
    ({"year": {"gt": 1e300}}, "filter.year.gt: a number must be finite"),
    ({"year": {"eq": 1, "gt": 0}}, "filter.year: use one of 'eq', 'in' or a range"),
    ({"and": []}, "filter.and: 'and' takes a non-empty list of filters"),
    ({"or": {"a": 1}}, "filter.or: 'or' takes a non-empty list of filters"),
    ({"and": [{"a": 1}, 5]}, "filter.and[1]: a filter is a non-empty JSON object"),
    ({"not": []}, "filter.not: a filter is a non-empty JSON object"),
    ({"": 1}, "filter: a metadata key is 1 to 256 characters"),
]


@pytest.mark.parametrize(("data", "message"), MALFORMED, ids=[m for _, m in MALFORMED])
def test_a_malformed_filter_is_refused_naming_where(data: Any, message: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse_filter(data)
    assert str(raised.value).startswith(message)


def nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"a": 1}
    for _ in range(depth - 1):
        node = {"not": node}
    return node


def test_depth_nodes_and_values_are_bounded() -> None:
    limits = FilterLimits(max_depth=4, max_nodes=5, max_values=6)
    parse_filter(nested(4), limits)
    with pytest.raises(InvalidInputError, match="nests deeper than 4 levels"):
        parse_filter(nested(5), limits)
    with pytest.raises(InvalidInputError, match="more than 5 conditions"):
        parse_filter({"or": [{"a": i} for i in range(5)]}, limits)
    with pytest.raises(InvalidInputError, match="more than 6 values"):
        parse_filter({"a": {"in": list(range(7))}}, limits)


def test_a_very_deep_filter_is_refused_without_recursing_through_it() -> None:
    with pytest.raises(InvalidInputError, match="nests deeper than 8"):
        parse_filter(nested(10_000))


MATCHES = [
    ({"lang": "de"}, {"lang": "de"}, True),
    ({"lang": "de"}, {"lang": "en"}, False),
    ({"lang": "de"}, {}, False),
    ({"not": {"lang": "de"}}, {}, True),
    ({"tags": "a"}, {"tags": ["b", "a"]}, True),
    ({"n": 1}, {"n": 1.0}, True),
    ({"n": 1}, {"n": True}, False),
    ({"flag": True}, {"flag": 1}, False),
    ({"n": {"gte": 2, "lt": 3}}, {"n": 2}, True),
    ({"n": {"gte": 2, "lt": 3}}, {"n": 3}, False),
    ({"n": {"gt": 2}}, {"n": "5"}, False),
    ({"n": {"in": [1, "x"]}}, {"n": "x"}, True),
    ({"or": [{"a": 1}, {"b": 2}]}, {"b": 2}, True),
    ({"a": 1, "b": 2}, {"b": 2}, False),
]


@pytest.mark.parametrize(("data", "metadata", "expected"), MATCHES)
def test_what_a_filter_matches(data: Any, metadata: dict[str, Any], expected: bool) -> None:
    assert parse_filter(data).matches(metadata) is expected


scalars = st.one_of(st.text(max_size=5), st.integers(-50, 50).map(float), st.booleans())
keys = st.sampled_from(["lang", "tenant", "year", "tags"])
leaves = st.one_of(
    st.builds(Eq, keys, scalars),
    st.builds(In, keys, st.lists(scalars, min_size=1, max_size=4).map(tuple)),
    st.builds(Range, keys, st.none() | st.integers(-9, 9).map(float), st.none(),
              st.integers(-9, 9).map(float)),
)  # fmt: skip
filters = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(And, st.lists(inner, min_size=2, max_size=3).map(tuple)),
        st.builds(Or, st.lists(inner, min_size=1, max_size=3).map(tuple)),
        st.builds(Not, inner),
    ),
    max_leaves=8,
)


@given(filters)
def test_a_filter_parses_back_from_its_json(where: Any) -> None:
    assert parse_filter(where.to_json(), FilterLimits(max_depth=64)).to_json() == where.to_json()
