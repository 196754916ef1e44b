"""The facade's typed inputs: what an adapter asks of ``Switchover``, checked in the core.

An adapter (the HTTP API builds them from its pydantic bodies) says what it wants in
these; the core still checks the domain (ranges, finiteness, a rollback's reason, names
that must exist), because tests and other adapters call it too. A value the domain's own
types check when they are built (``Plan``, ``IndexSpec``, ``SearchParams``) is refused by
name with the same message wherever it is built.

What stays untyped, and why: guardrail settings (``Plan.guardrails``, ``PlanUpdate``'s),
an open set of rules with their own settings each, kept as the operator set them and
parsed by ``Guardrails.from_dict``, which names a bad rule or setting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, cast

from indexes import EmbedderSpec, IndexSpec, SearchParams
from indexes.errors import InvalidInputError
from indexes.spec import Backend, Metric

from .inconclusive import InconclusivePolicy
from .migration import FIELD_CHECKS, Plan

PLAN_KNOBS = (
    "shadow_sample",
    "canary_steps",
    "guardrails",
    "inconclusive",
)  # what changes without a rebuild
SEARCH_KNOBS = frozenset(f.name for f in fields(SearchParams))


@dataclass(frozen=True)
class ActionRequest:
    """One move's knobs: a canary's ``percent`` (default: the next step), why, and whether
    the operator overrides the recall judgement (canary, cutover)."""

    percent: float | None = None
    reason: str | None = None
    override: bool = False


@dataclass(frozen=True)
class EvalRequest:
    """An eval job: an eval set on two index versions (default: the live migration's)."""

    eval_set: str
    source: str | None = None
    target: str | None = None
    limit: int | None = None  # at most this many queries (default: all of the set)
    margin: float | None = None  # the non-inferiority margin (default: ``RecallRule``'s)


@dataclass(frozen=True)
class TargetRequest:
    """A migration's new index version; ``embedder`` None keeps the source's (layout only)."""

    name: str
    factory: str = "Flat"
    metric: str = "ip"
    embedder: EmbedderSpec | None = None
    search_params: SearchParams = field(default_factory=SearchParams)
    backend: str = "faiss"  # or "pgvector": factory is then a pgvector layout

    def spec(self, source_embedder: EmbedderSpec) -> IndexSpec:
        """The target's spec; InvalidInputError for a bad name, factory or metric."""
        return IndexSpec(
            name=self.name,
            embedder=self.embedder or source_embedder,
            factory=self.factory,
            metric=cast(Metric, self.metric),  # IndexSpec refuses any other metric by name
            backend=cast(Backend, self.backend),  # and any other backend
        )


@dataclass(frozen=True)
class PowerRequest:
    """A plan's question about its eval set: enough paired queries for the recall margin?

    ``guardrails`` as a migration's plan gives them (the recall rule's margin, confidence,
    minimum and pool are read from them); ``power``: the chance to pass an identical target.
    """

    eval_set: str
    guardrails: Mapping[str, Any] | None = None
    power: float = 0.8

    def checked(self) -> PowerRequest:
        """This request, once its values are valid (InvalidInputError names the bad one)."""
        if not isinstance(self.eval_set, str):
            raise InvalidInputError("eval_set must be the name of a registered eval set")
        power = self.power
        if isinstance(power, bool) or not isinstance(power, int | float) or not 0 < power < 1:
            raise InvalidInputError("power must be a number between 0 and 1")
        return self


@dataclass(frozen=True)
class MigrationRequest:
    """A new migration: its target and its plan (every knob at its default unless given)."""

    target: TargetRequest
    plan: Plan = field(default_factory=Plan)


@dataclass(frozen=True)
class RebuildRequest:
    """A rebuild of the primary: the new version's name (default NAME-r2) and the plan."""

    target: str | None = None
    plan: Plan = field(default_factory=Plan)


@dataclass(frozen=True)
class PlanUpdate:
    """New knobs for the live migration's plan; a knob left None keeps its value."""

    shadow_sample: float | None = None
    canary_steps: Sequence[float] | None = None
    guardrails: Mapping[str, Any] | None = None  # rule -> settings, as in ``Plan.guardrails``
    inconclusive: Mapping[str, Any] | None = None  # the policy's settings (``Plan.inconclusive``)

    def is_empty(self) -> bool:
        knobs = (self.shadow_sample, self.canary_steps, self.guardrails, self.inconclusive)
        return all(k is None for k in knobs)

    def applied_to(self, plan: Plan) -> Plan:
        """``plan`` with these knobs (InvalidInputError names a bad one; nothing changes)."""
        return replace(
            plan,
            shadow_sample=plan.shadow_sample if self.shadow_sample is None else self.shadow_sample,
            canary_steps=plan.canary_steps if self.canary_steps is None else self.canary_steps,
            guardrails=plan.guardrails if self.guardrails is None else dict(self.guardrails),
            inconclusive=plan.inconclusive
            if self.inconclusive is None
            else InconclusivePolicy.from_value(self.inconclusive),
        ).checked()

    def described(self) -> str:
        """The knobs given, as the audit event names them: ``canary_steps=[2, 10], ...``."""
        given = {
            "canary_steps": None if self.canary_steps is None else list(self.canary_steps),
            "guardrails": self.guardrails,
            "inconclusive": self.inconclusive,
            "shadow_sample": self.shadow_sample,
        }
        return ", ".join(f"{k}={v}" for k, v in given.items() if v is not None)

    @classmethod
    def from_dict(cls, knobs: Mapping[str, Any]) -> PlanUpdate:
        """Knobs sent as a free JSON object (a config change's ``migration``): an unknown
        name or a bad value, null included, is refused by name. Kept as sent, so the audit
        event names them as the operator wrote them."""
        unknown = set(knobs) - set(PLAN_KNOBS)
        if unknown:
            raise InvalidInputError(f"unknown migration knob(s) {sorted(unknown)}")
        for key, value in knobs.items():
            FIELD_CHECKS[key](value)
        return cls(**knobs)


@dataclass(frozen=True)
class SearchParamsChange:
    """New search knobs for one index: those named in ``sent`` take their value in
    ``params`` (None: the index's default again); the others keep theirs."""

    params: SearchParams
    sent: frozenset[str] = SEARCH_KNOBS

    def __post_init__(self) -> None:
        unknown = self.sent - SEARCH_KNOBS
        if unknown:
            raise InvalidInputError(f"search params: unknown key(s) {sorted(unknown)}")

    def applied_to(self, current: SearchParams) -> SearchParams:
        return replace(current, **{knob: getattr(self.params, knob) for knob in self.sent})

    @classmethod
    def from_dict(cls, knobs: Mapping[str, Any]) -> SearchParamsChange:
        """Knobs sent as a JSON object; unknown ones and bad values are refused by name."""
        return cls(SearchParams.from_dict(knobs), frozenset(knobs))


@dataclass(frozen=True)
class ConfigChange:
    """A runtime config change: search knobs by index name and/or the live migration's
    plan knobs, and why (recorded with the new version)."""

    indexes: Mapping[str, SearchParamsChange] | None = None
    migration: PlanUpdate | None = None
    reason: str = "set"


@dataclass(frozen=True)
class SearchQuery:
    """One query of a batch search: its text, ``k``, metadata filter (``indexes/filters.py``)
    and routing key (default: the batch's)."""

    query: str
    k: int = 10
    where: Mapping[str, Any] | None = None
    routing_key: str | None = None
    slice_fields: Mapping[str, str] | None = None  # its slice ({"tenant": "acme"})
