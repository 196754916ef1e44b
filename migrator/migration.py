"""An index migration's plan (what the operator asked for, checked) and backfill progress."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from itertools import pairwise
from typing import Any

from indexes.errors import InvalidInputError

from .guardrails import Guardrails

DEFAULT_CANARY_STEPS = (1.0, 5.0, 25.0, 50.0)
MAX_BATCH = 4096
MAX_CANARY_STEPS = 100


def _number(value: object, name: str, bounds: str) -> float:
    """A finite int or float (not a bool, not a numeric string) as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(f"{name} must be a finite number {bounds}, got {value!r}")
    return float(value)


def _canary_steps(value: object) -> tuple[float, ...]:
    """A non-empty list of finite percentages in (0, 100), strictly increasing.

    100 is no canary step: a canary serves less than every read (cut over for all of them).
    A string is refused, not read as a list of its characters.
    """
    shape = "canary_steps must be a non-empty list of strictly increasing percentages in (0, 100)"
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        raise InvalidInputError(f"{shape}, got {value!r}")
    if not 1 <= len(value) <= MAX_CANARY_STEPS:
        raise InvalidInputError(f"{shape} (at most {MAX_CANARY_STEPS}), got {len(value)} steps")
    steps = tuple(_number(s, f"canary_steps[{i}]", "in (0, 100)") for i, s in enumerate(value))
    if any(not 0 < s < 100 for s in steps) or any(a >= b for a, b in pairwise(steps)):
        raise InvalidInputError(f"{shape}, got {list(steps)}")
    return steps


@dataclass(frozen=True)
class Plan:
    """What the operator asked for when creating the migration."""

    canary_steps: tuple[float, ...] = DEFAULT_CANARY_STEPS
    shadow_sample: float = 0.1  # share of live searches also run on the other index
    backfill_batch: int = 128
    guardrails: dict[str, Any] = field(default_factory=dict)
    eval_set: str | None = None  # the eval set that judges this migration

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["canary_steps"] = list(self.canary_steps)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        unknown = set(data) - {
            "canary_steps",
            "shadow_sample",
            "backfill_batch",
            "guardrails",
            "eval_set",
        }
        if unknown:
            raise InvalidInputError(f"unknown plan field(s): {sorted(unknown)}")
        steps = _canary_steps(data.get("canary_steps", DEFAULT_CANARY_STEPS))
        sample = _number(data.get("shadow_sample", 0.1), "shadow_sample", "in [0, 1]")
        if not 0 <= sample <= 1:
            raise InvalidInputError(
                f"shadow_sample must be a finite number in [0, 1], got {sample}"
            )
        batch = data.get("backfill_batch", 128)
        if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH:
            raise InvalidInputError(
                f"backfill_batch must be an integer from 1 to {MAX_BATCH}, got {batch!r}"
            )
        guardrails = data.get("guardrails", {})
        if not isinstance(guardrails, Mapping):
            raise InvalidInputError("guardrails must be an object of guardrail settings")
        Guardrails.from_dict(guardrails)  # refuse unknown names and bad values now
        eval_set = data.get("eval_set")
        if eval_set is not None and not isinstance(eval_set, str):
            raise InvalidInputError("eval_set must be the name of a registered eval set")
        return cls(steps, sample, batch, dict(guardrails), eval_set)

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> Plan:
        """A plan as the store holds it.

        Guardrail overrides stored before their settings were checked strictly are kept as
        they are rather than refused: the migration still loads, and the watchdog, which
        parses them on every tick, reports the bad setting by name and fails safe.
        """
        plan = cls.from_dict({**data, "guardrails": {}})
        return replace(plan, guardrails=dict(data.get("guardrails") or {}))


@dataclass(frozen=True)
class PlanChange:
    """A new plan for a migration and the audit event that records it (reason, numbers)."""

    migration_id: int
    plan: Plan
    actor: str
    reason: str
    metrics: Mapping[str, Any]


@dataclass(frozen=True)
class Backfill:
    """Backfill progress; ``cursor`` is the last document id copied (ids go in order).

    ``as_of_seq`` is the log position when dual-write began: later writes reach the
    target through the log, earlier ones through the backfill. ``checkpoint_at`` names
    the target snapshot that covers ``cursor``.
    """

    as_of_seq: int = 0
    total: int = 0
    done: int = 0
    cursor: str | None = None
    finished: bool = False
    started_at: float | None = None
    finished_at: float | None = None
    encoded: int = 0
    checkpoint_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Backfill:
        return cls(**dict(data))
