"""Metadata filters: a small JSON language, parsed into a typed tree, matched purely.

The language (every key is a top-level metadata key; ``and``, ``or`` and ``not`` are
reserved)::

    {"lang": "de"}                          equality (a string, a number or a boolean)
    {"lang": {"in": ["de", "fr"]}}          one of several values (never an empty list)
    {"year": {"gte": 2020, "lt": 2024}}     a numeric range: gt, gte, lt, lte (together: all)
    {"lang": {"eq": "de"}}                  equality, spelled out
    {"and": [f, ...]}  {"or": [f, ...]}  {"not": f}
    {"lang": "de", "year": {"gte": 2020}}   several keys in one object: all of them

A document matches a leaf when its value there is equal (a list value matches when any
of its items does); a missing key matches no leaf, so ``{"not": {"lang": "de"}}`` also
matches documents without ``lang``. Booleans are not numbers: ``true`` never equals ``1``.
A range matches numbers only. :func:`parse_filter` refuses anything else with an
:class:`InvalidInputError` that names where the problem is, and bounds the tree's depth,
node count and values (:class:`FilterLimits`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidInputError

Scalar = str | float | bool  # ints are held as floats: 1 and 1.0 are one value
RANGE_OPS = ("gt", "gte", "lt", "lte")
_LEAF_OPS = frozenset({"eq", "in", *RANGE_OPS})


@dataclass(frozen=True)
class FilterLimits:
    max_depth: int = 8  # nesting of and/or/not (a leaf at the top is depth 1)
    max_nodes: int = 64  # leaves and combinators together
    max_values: int = 1024  # scalar values in the whole filter (every ``in`` item counts)
    max_key_chars: int = 256
    max_value_chars: int = 1024


def value_key(value: object) -> tuple[str, Any] | None:
    """The typed key a scalar matches under (None for a value no leaf can match)."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float) and math.isfinite(value):
        return ("n", float(value))
    if isinstance(value, str):
        return ("s", value)
    return None


def _values_of(metadata: Mapping[str, Any], key: str) -> list[tuple[str, Any]]:
    raw = metadata.get(key)
    items = raw if isinstance(raw, list) else [raw]
    return [k for k in (value_key(v) for v in items) if k is not None]


@dataclass(frozen=True)
class Eq:
    key: str
    value: Scalar

    def matches(self, metadata: Mapping[str, Any]) -> bool:
        return value_key(self.value) in _values_of(metadata, self.key)

    def to_json(self) -> Any:
        return {self.key: self.value}


@dataclass(frozen=True)
class In:
    key: str
    values: tuple[Scalar, ...]

    def matches(self, metadata: Mapping[str, Any]) -> bool:
        wanted = {value_key(v) for v in self.values}
        return any(v in wanted for v in _values_of(metadata, self.key))

    def to_json(self) -> Any:
        return {self.key: {"in": list(self.values)}}


@dataclass(frozen=True)
class Range:
    key: str
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None

    def holds(self, x: float) -> bool:
        return not (
            (self.gt is not None and x <= self.gt)
            or (self.gte is not None and x < self.gte)
            or (self.lt is not None and x >= self.lt)
            or (self.lte is not None and x > self.lte)
        )

    def matches(self, metadata: Mapping[str, Any]) -> bool:
        return any(t == "n" and self.holds(v) for t, v in _values_of(metadata, self.key))

    def to_json(self) -> Any:
        bounds = {op: getattr(self, op) for op in RANGE_OPS if getattr(self, op) is not None}
        return {self.key: bounds}


@dataclass(frozen=True)
class And:
    parts: tuple[Filter, ...]

    def matches(self, metadata: Mapping[str, Any]) -> bool:
        return all(p.matches(metadata) for p in self.parts)

    def to_json(self) -> Any:
        return {"and": [p.to_json() for p in self.parts]}


@dataclass(frozen=True)
class Or:
    parts: tuple[Filter, ...]

    def matches(self, metadata: Mapping[str, Any]) -> bool:
        return any(p.matches(metadata) for p in self.parts)

    def to_json(self) -> Any:
        return {"or": [p.to_json() for p in self.parts]}


@dataclass(frozen=True)
class Not:
    part: Filter

    def matches(self, metadata: Mapping[str, Any]) -> bool:
        return not self.part.matches(metadata)

    def to_json(self) -> Any:
        return {"not": self.part.to_json()}


Filter = Eq | In | Range | And | Or | Not


def parse_filter(data: object, limits: FilterLimits | None = None) -> Filter:
    """The typed tree of a JSON filter; anything malformed or too big -> InvalidInputError."""
    return _Parser(limits or FilterLimits()).node(data, "filter", 1)


class _Parser:
    def __init__(self, limits: FilterLimits) -> None:
        self.limits = limits
        self.nodes = 0
        self.values = 0

    def _count(self, where: str, values: int = 0) -> None:
        self.nodes += 1
        self.values += values
        if self.nodes > self.limits.max_nodes:
            raise InvalidInputError(
                f"{where}: the filter has more than {self.limits.max_nodes} conditions"
            )
        if self.values > self.limits.max_values:
            raise InvalidInputError(
                f"{where}: the filter holds more than {self.limits.max_values} values"
            )

    def node(self, data: object, where: str, depth: int) -> Filter:
        if depth > self.limits.max_depth:
            raise InvalidInputError(
                f"{where}: the filter nests deeper than {self.limits.max_depth} levels"
            )
        if not isinstance(data, Mapping) or not data:
            raise InvalidInputError(f"{where}: a filter is a non-empty JSON object")
        parts = [self._entry(key, value, where, depth) for key, value in data.items()]
        if len(parts) == 1:
            return parts[0]
        self._count(where)
        return And(tuple(parts))

    def _entry(self, key: object, value: object, where: str, depth: int) -> Filter:
        if not isinstance(key, str):
            raise InvalidInputError(f"{where}: keys must be strings")
        if key in ("and", "or"):
            return self._combine(key, value, f"{where}.{key}", depth)
        if key == "not":
            self._count(where)
            return Not(self.node(value, f"{where}.not", depth + 1))
        return self._leaf(self._key(key, where), value, f"{where}.{key}")

    def _combine(self, op: str, value: object, where: str, depth: int) -> Filter:
        if not isinstance(value, list) or not value:
            raise InvalidInputError(f"{where}: '{op}' takes a non-empty list of filters")
        self._count(where)
        parts = tuple(self.node(p, f"{where}[{i}]", depth + 1) for i, p in enumerate(value))
        return And(parts) if op == "and" else Or(parts)

    def _key(self, key: str, where: str) -> str:
        if not key or len(key) > self.limits.max_key_chars:
            raise InvalidInputError(
                f"{where}: a metadata key is 1 to {self.limits.max_key_chars} characters"
            )
        return key

    def _leaf(self, key: str, value: object, where: str) -> Filter:
        if not isinstance(value, Mapping):
            self._count(where, 1)
            return Eq(key, self._scalar(value, where))
        ops = set(value)
        unknown = sorted(str(o) for o in ops - _LEAF_OPS)
        if unknown or not ops:
            raise InvalidInputError(
                f"{where}: unknown operator {unknown[0]!r}; use eq, in, gt, gte, lt or lte"
                if unknown
                else f"{where}: an operator object needs one of eq, in, gt, gte, lt, lte"
            )
        if len(ops & {"eq", "in"}) + bool(ops & set(RANGE_OPS)) > 1:
            raise InvalidInputError(f"{where}: use one of 'eq', 'in' or a range, not several")
        if "eq" in ops:
            self._count(where, 1)
            return Eq(key, self._scalar(value["eq"], f"{where}.eq"))
        if "in" in ops:
            return self._in(key, value["in"], f"{where}.in")
        self._count(where, len(ops))
        bounds = {op: self._number(value[op], f"{where}.{op}") for op in ops}
        return Range(key, **bounds)

    def _in(self, key: str, values: object, where: str) -> Filter:
        if not isinstance(values, list) or not values:
            raise InvalidInputError(f"{where}: 'in' takes a non-empty list of values")
        self._count(where, len(values))
        return In(key, tuple(self._scalar(v, f"{where}[{i}]") for i, v in enumerate(values)))

    def _scalar(self, value: object, where: str) -> Scalar:
        if isinstance(value, str):
            if len(value) > self.limits.max_value_chars:
                raise InvalidInputError(
                    f"{where}: a value is at most {self.limits.max_value_chars} characters"
                )
            return value
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return self._number(value, where)
        raise InvalidInputError(
            f"{where}: a value is a string, a number or a boolean, not {_json_type(value)}"
        )

    def _number(self, value: object, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInputError(f"{where}: a range bound is a number, not {_json_type(value)}")
        if not math.isfinite(value) or abs(value) > 2**53:
            raise InvalidInputError(f"{where}: a number must be finite and within +-2^53")
        return float(value)


def _json_type(value: object) -> str:
    names = {bool: "a boolean", str: "a string", list: "a list", dict: "an object"}
    if value is None:
        return "null"
    return next((n for t, n in names.items() if isinstance(value, t)), type(value).__name__)
