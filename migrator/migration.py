"""An index migration's plan (what the operator asked for, checked) and backfill progress."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any

from indexes.errors import InvalidInputError

from .as_dict import AsDict
from .guardrails import Guardrails
from .inconclusive import InconclusivePolicy
from .slices import SlicePlan

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


def _shadow_sample(value: object) -> float:
    sample = _number(value, "shadow_sample", "in [0, 1]")
    if not 0 <= sample <= 1:
        raise InvalidInputError(f"shadow_sample must be a finite number in [0, 1], got {sample}")
    return sample


def _backfill_batch(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BATCH:
        raise InvalidInputError(
            f"backfill_batch must be an integer from 1 to {MAX_BATCH}, got {value!r}"
        )
    return value


def _guardrails(value: object) -> dict[str, Any]:
    """The shape only: the settings themselves are checked by :meth:`Plan.checked`."""
    if not isinstance(value, Mapping):
        raise InvalidInputError("guardrails must be an object of guardrail settings")
    return dict(value)


def _eval_set(value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidInputError("eval_set must be the name of a registered eval set")
    return value


def _slices(value: object) -> SlicePlan | None:
    """None (no slices), or the slice keys, minimum sample and breach policy, checked."""
    return None if value is None else SlicePlan.from_dict(value)


# Every field of a plan and its check, in the order they are checked: each refuses a bad
# value by name (InvalidInputError) and returns it as the plan keeps it.
FIELD_CHECKS: dict[str, Callable[[object], object]] = {
    "canary_steps": _canary_steps,
    "shadow_sample": _shadow_sample,
    "backfill_batch": _backfill_batch,
    "guardrails": _guardrails,
    "eval_set": _eval_set,
    "inconclusive": InconclusivePolicy.from_value,
    "slices": _slices,
}


@dataclass(frozen=True)
class Plan:
    """What the operator asked for when creating the migration.

    A plan checks its own values (InvalidInputError names the field): ``canary_steps`` may
    be given as any sequence and is kept as a tuple of floats. Its guardrail settings are
    checked by :meth:`checked`, where an operator sets them: a stored plan keeps the ones it
    was saved with (see :meth:`from_stored`).
    """

    canary_steps: Sequence[float] = DEFAULT_CANARY_STEPS  # kept as a tuple of floats
    shadow_sample: float = 0.1  # share of live searches also run on the other index
    backfill_batch: int = 128
    # The guardrail overrides as set (rule name -> its settings), stored as sent; their
    # typed form is ``Guardrails.from_dict(plan.guardrails)``, read on every tick.
    guardrails: dict[str, Any] = field(default_factory=dict)
    eval_set: str | None = None  # the eval set that judges this migration
    # What a judgement that keeps holding leads to (``migrator/inconclusive.py``); given
    # as an object of settings, kept as the typed policy.
    inconclusive: InconclusivePolicy = field(default_factory=InconclusivePolicy)
    # Slice keys judged and routed on their own, and the slices already rolled back
    # (migrator/slices.py); None: the migration is judged and routed as one.
    slices: SlicePlan | None = None

    def __post_init__(self) -> None:
        for name, check in FIELD_CHECKS.items():
            object.__setattr__(self, name, check(getattr(self, name)))

    def checked(self) -> Plan:
        """This plan, once its guardrail settings are valid too (unknown names, bad values)."""
        Guardrails.from_dict(self.guardrails)
        return self

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["canary_steps"] = list(self.canary_steps)
        data["slices"] = None if self.slices is None else self.slices.to_dict()
        return data

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> Plan:
        """A plan as the store holds it.

        Guardrail overrides stored before their settings were checked strictly are kept as
        they are rather than refused: the migration still loads, and the watchdog, which
        parses them on every tick, reports the bad setting by name and fails safe.
        """
        unknown = set(data) - set(FIELD_CHECKS)
        if unknown:
            raise InvalidInputError(f"unknown plan field(s): {sorted(unknown)}")
        return cls(**{**data, "guardrails": dict(data.get("guardrails") or {})})


@dataclass(frozen=True)
class PlanChange:
    """A new plan for a migration and the audit event that records it (reason, numbers)."""

    migration_id: int
    plan: Plan
    actor: str
    reason: str
    metrics: Mapping[str, Any]


@dataclass(frozen=True)
class Backfill(AsDict):
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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Backfill:
        return cls(**dict(data))
