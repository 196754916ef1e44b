"""The body scan (``api.body_limit.json_body_problem``) gives the same verdict whatever a
body's size: small bodies take a shortcut (one split at the quotes, no depth scan when there
are too few objects and arrays to nest deeply), large ones the chunked array scan, and
whitespace padding moves a body from one to the other without changing what it holds."""

from __future__ import annotations

import pytest

from api.body_limit import MAX_JSON_DEPTH, SMALL_BODY, json_body_problem

BODIES = {
    "a search": b'{"query": "what is a \\"lamp\\" tide?", "k": 10}',
    "escaped backslash before a quote": b'{"query": "C:\\\\", "k": 10, "filter": {"a": "]]]"}}',
    "brackets inside strings": b'{"query": "' + b"[{" * 200 + b'", "k": 3}',
    "too deep": b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
    "deep enough": b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH,
    "many shallow arrays": b"[" + b",".join([b"[1]"] * 500) + b"]",
    "NaN outside a string": b'{"query": "NaN", "k": NaN}',
    "Infinity inside a string only": b'{"query": "Infinity and beyond", "k": 1}',
    "a number beyond a float": b'{"query": "q", "k": 1e999}',
    "a lone surrogate": b'{"query": "\\ud800 alone", "k": 1}',
    "a paired surrogate": b'{"query": "\\ud83d\\ude00", "k": 1}',
    "an unterminated string": b'{"query": "never closed, "k": [[[[',
}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_a_small_body_gets_the_verdict_of_the_same_body_made_large(body: bytes) -> None:
    assert len(body) <= SMALL_BODY
    padding = b" " * (SMALL_BODY + 1 - len(body))  # whitespace is JSON's own filler
    padded = body[:1] + padding + body[1:]
    assert len(padded) > SMALL_BODY
    assert json_body_problem(body) == json_body_problem(padded)


def test_the_shortcut_still_refuses_what_the_scan_refuses() -> None:
    assert "nests deeper" in (json_body_problem(BODIES["too deep"]) or "")
    assert json_body_problem(BODIES["deep enough"]) is None
    assert json_body_problem(BODIES["brackets inside strings"]) is None
    assert "NaN" in (json_body_problem(BODIES["NaN outside a string"]) or "")
    assert json_body_problem(BODIES["Infinity inside a string only"]) is None
