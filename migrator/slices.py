"""Slices: which slice a query belongs to, how each is judged, and what share it routes.

A migration's plan may name slice keys, each of one of two forms::

    "metadata.lang"    a document metadata key: a query's value is the one its client
                       sends (the search's ``slice`` field) or else the value its filter
                       pins by equality ({"lang": "de"}, or inside a top-level "and")
    "request.tenant"   a field only the client sends with the query (``slice`` field)

A query's slice is its label, ``"lang=de"`` (several keys: ``"lang=de,tenant=acme"``,
in the plan's key order); a query without a value for every key has no slice and is
judged and routed with all of them. Each slice is judged on its own paired recall
deltas with its own minimum sample (fewer pairs hold, never pass). A slice rolled back
routes no read to the target (share 0) while the others keep the canary share; the
plan's ``on_breach: "all"`` rolls the whole migration back instead. Everything here is
pure: parsing, labelling, per-slice judgement and shares.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from evals import Judgement, judge
from indexes.errors import InvalidInputError
from indexes.filters import And, Eq, Filter

Form = Literal["metadata", "request"]
OnBreach = Literal["slice", "all"]
FORMS: tuple[Form, ...] = ("metadata", "request")
MAX_SLICE_KEYS = 3
MAX_SLICES = 64  # distinct slices an eval set or a plan may name
MAX_MIN_SAMPLES = 10_000
NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_\-]{0,63}"
VALUE_PATTERN = r"[A-Za-z0-9_.:\-]{1,64}"
_LABEL_PART = re.compile(rf"({NAME_PATTERN})=({VALUE_PATTERN})")


@dataclass(frozen=True)
class SliceKey:
    form: Form
    name: str

    def __str__(self) -> str:
        return f"{self.form}.{self.name}"

    @classmethod
    def parse(cls, value: object) -> SliceKey:
        """``"metadata.lang"`` or ``"request.tenant"``; any other form is refused."""
        if not isinstance(value, str) or "." not in value:
            raise InvalidInputError(
                f"slice key {value!r} must be 'metadata.<key>' or 'request.<field>'"
            )
        form, name = value.split(".", 1)
        if form not in FORMS:
            raise InvalidInputError(
                f"slice key {value!r}: unknown form {form!r} (use 'metadata.' or 'request.')"
            )
        if not re.fullmatch(NAME_PATTERN, name):
            raise InvalidInputError(f"slice key {value!r}: the name must match {NAME_PATTERN}")
        return cls("metadata" if form == "metadata" else "request", name)


@dataclass(frozen=True)
class SlicePlan:
    """The plan's ``slices`` field, checked; ``rolled_back`` labels route only to the source."""

    keys: tuple[SliceKey, ...]
    min_samples: int = 30
    on_breach: OnBreach = "slice"
    rolled_back: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: object) -> SlicePlan:
        if isinstance(data, SlicePlan):
            return data
        if not isinstance(data, Mapping):
            raise InvalidInputError("slices must be an object: {keys, min_samples, on_breach}")
        unknown = set(data) - {"keys", "min_samples", "on_breach", "rolled_back"}
        if unknown:
            raise InvalidInputError(f"unknown slices field(s): {sorted(unknown)}")
        return cls(
            _keys(data.get("keys")),
            _min_samples(data.get("min_samples", 30)),
            _on_breach(data.get("on_breach", "slice")),
            _rolled_back(data.get("rolled_back", [])),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "keys": [str(k) for k in self.keys],
            "min_samples": self.min_samples,
            "on_breach": self.on_breach,
            "rolled_back": list(self.rolled_back),
        }

    def label(self, fields: Mapping[str, str] | None, where: Filter | None = None) -> str | None:
        """The query's slice label, or None when it lacks a value for some key."""
        parts = []
        for key in self.keys:
            value = (fields or {}).get(key.name)
            if value is None and key.form == "metadata":
                value = pinned_value(where, key.name)
            if value is None:
                return None
            parts.append(f"{key.name}={value}")
        return ",".join(parts)

    def share(self, label: str | None, target_share: float) -> float:
        """The percent of this slice's reads the target serves: 0 once it is rolled back."""
        return 0.0 if label is not None and label in self.rolled_back else target_share

    def rolling_back(self, label: str) -> SlicePlan:
        """This plan with ``label`` rolled back too."""
        if label in self.rolled_back:
            return self
        return SlicePlan(self.keys, self.min_samples, self.on_breach, (*self.rolled_back, label))


def pinned_value(where: Filter | None, key: str) -> str | None:
    """The string value ``where`` pins ``key`` to by equality (top level or in an "and")."""
    if isinstance(where, Eq) and where.key == key and isinstance(where.value, str):
        return where.value
    if isinstance(where, And):
        found = {pinned_value(part, key) for part in where.parts} - {None}
        return found.pop() if len(found) == 1 else None
    return None


def check_fields(value: object, where: str = "slice") -> dict[str, str] | None:
    """A query's slice fields ({"lang": "de"}): names and values bounded, at most a few."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or not value:
        raise InvalidInputError(f'{where} must be a non-empty object such as {{"lang": "de"}}')
    if len(value) > MAX_SLICE_KEYS:
        raise InvalidInputError(f"{where}: at most {MAX_SLICE_KEYS} fields, got {len(value)}")
    for name, field in value.items():
        if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
            raise InvalidInputError(f"{where}: field name {name!r} must match {NAME_PATTERN}")
        if not isinstance(field, str) or not re.fullmatch(VALUE_PATTERN, field):
            raise InvalidInputError(
                f"{where}.{name}: the value must be a string matching {VALUE_PATTERN}"
            )
    return dict(value)


def judge_slices(
    labels: Sequence[str | None],
    deltas: Sequence[float],
    *,
    min_samples: int,
    margin: float,
    confidence: float,
    max_looks: int,
) -> dict[str, Judgement]:
    """Each slice's own judgement of its paired deltas (NaN deltas are unjudged queries)."""
    if len(labels) != len(deltas):
        raise InvalidInputError(f"{len(labels)} slice labels for {len(deltas)} deltas")
    grouped: dict[str, list[float]] = {}
    for label, delta in zip(labels, deltas, strict=True):
        if label is not None and not math.isnan(delta):
            grouped.setdefault(label, []).append(delta)
        elif label is not None:
            grouped.setdefault(label, [])
    return {
        label: judge(
            values,
            margin=margin,
            confidence=confidence,
            min_samples=min_samples,
            max_looks=max_looks,
        )
        for label, values in sorted(grouped.items())
    }


def breached(judgements: Mapping[str, Judgement], rolled_back: Sequence[str]) -> list[str]:
    """Slices whose judgement fails and whose reads are not rolled back yet."""
    return [s for s, j in judgements.items() if j.decision == "fail" and s not in rolled_back]


def slice_evidence(judgement: Judgement) -> dict[str, Any]:
    """What a slice's rollback records: its sample size, mean delta and interval."""
    data = judgement.to_dict()
    return {
        "n": judgement.n,
        "mean_delta": data["mean_delta"],
        "ci_low": data["ci_low"],
        "ci_high": data["ci_high"],
        "margin": judgement.margin,
        "judgement": data,
    }


@dataclass(frozen=True)
class SliceStatus:
    """One slice as the status page and the metrics show it."""

    label: str
    target_share: float  # percent of this slice's reads on the target now
    rolled_back: bool
    judgement: Judgement | None  # None: no eval query of this slice judged yet

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "target_share": self.target_share,
            "rolled_back": self.rolled_back,
            "judgement": None if self.judgement is None else self.judgement.to_dict(),
        }


def slice_statuses(
    plan: SlicePlan, target_share: float, judgements: Mapping[str, Judgement]
) -> list[SliceStatus]:
    """Every slice judged or rolled back, by label."""
    labels = sorted(set(judgements) | set(plan.rolled_back))
    return [
        SliceStatus(
            label, plan.share(label, target_share), label in plan.rolled_back, judgements.get(label)
        )
        for label in labels
    ]


def _keys(value: object) -> tuple[SliceKey, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or not value:
        raise InvalidInputError("slices.keys must be a non-empty list such as ['metadata.lang']")
    if len(value) > MAX_SLICE_KEYS:
        raise InvalidInputError(f"slices.keys: at most {MAX_SLICE_KEYS} keys, got {len(value)}")
    keys = tuple(SliceKey.parse(v) for v in value)
    if len({k.name for k in keys}) != len(keys):
        raise InvalidInputError("slices.keys: each name may appear once")
    return keys


def _min_samples(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError("slices.min_samples must be an integer")
    if not 2 <= value <= MAX_MIN_SAMPLES:
        raise InvalidInputError(f"slices.min_samples must be from 2 to {MAX_MIN_SAMPLES}")
    return value


def _on_breach(value: object) -> OnBreach:
    if value == "slice":
        return "slice"
    if value == "all":
        return "all"
    raise InvalidInputError(f"slices.on_breach must be 'slice' or 'all', got {value!r}")


def _rolled_back(value: object) -> tuple[str, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise InvalidInputError("slices.rolled_back must be a list of slice labels")
    if len(value) > MAX_SLICES:
        raise InvalidInputError(f"slices.rolled_back: at most {MAX_SLICES} slices")
    return tuple(check_label(v) for v in value)


def check_label(value: object) -> str:
    """A slice label as ``label`` writes it: ``name=value`` parts joined by commas."""
    parts = value.split(",") if isinstance(value, str) else []
    if not parts or len(parts) > MAX_SLICE_KEYS or not all(_LABEL_PART.fullmatch(p) for p in parts):
        raise InvalidInputError(f"slice label {value!r} must look like 'lang=de' or 'a=x,b=y'")
    return str(value)
