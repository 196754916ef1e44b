"""The metadata checks' shortcut for flat objects agrees with the full walk on every input."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexes.errors import InvalidInputError
from migrator.settings import Limits
from migrator.validation import _check_metadata_values, _plain_flat, check_metadata

LIMITS = Limits(max_metadata_bytes=64)
# text with lone surrogates in it, as JSON's "\\ud800" gives them
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=8)
SCALAR = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT
VALUE = st.recursive(
    SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3)
)


def walk_passes(metadata: dict[str, Any], limits: Limits) -> bool:
    try:
        _check_metadata_values(metadata, limits, "documents[0]")
    except InvalidInputError:
        return False
    return True


@given(st.dictionaries(TEXT, VALUE, max_size=80))
def test_the_shortcut_passes_only_what_the_walk_passes(metadata: dict[str, Any]) -> None:
    if _plain_flat(metadata, LIMITS):
        assert walk_passes(metadata, LIMITS)


@given(st.dictionaries(TEXT, SCALAR, max_size=20))
def test_flat_objects_of_whole_strings_take_the_shortcut(metadata: dict[str, Any]) -> None:
    assert _plain_flat(metadata, LIMITS) == walk_passes(metadata, LIMITS)


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"k": "lone \ud800 surrogate"}, "a metadata value contains a lone surrogate"),
        ({"lone \udc00": 1}, "a metadata key contains a lone surrogate"),
        ({"n": float("nan")}, "not plain JSON"),
        ({str(i): i for i in range(64)}, "more than 64 values"),
    ],
)
def test_flat_objects_the_shortcut_refuses_get_the_walks_message(
    metadata: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        check_metadata(metadata, LIMITS, "documents[0]")


def test_a_flat_object_is_returned_as_the_store_keeps_it() -> None:
    assert check_metadata({"b": 1, "a": "x"}, LIMITS, "d") == '{"a": "x", "b": 1}'
