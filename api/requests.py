"""The core's typed requests, built from the checked bodies (types only: the core checks
the domain, and the domain's own types refuse a bad value by name as they are built)."""

from __future__ import annotations

from typing import Any

from indexes import EmbedderSpec, SearchParams
from indexes.errors import InvalidInputError
from migrator import (
    ConfigChange,
    MigrationRequest,
    Plan,
    PlanUpdate,
    PowerRequest,
    RebuildRequest,
    SearchParamsChange,
    TargetRequest,
)

from .operator_schemas import (
    ConfigBody,
    MigrationBody,
    MigrationPlanBody,
    PlanBody,
    RebuildBody,
    TargetBody,
)


def migration_request(body: MigrationBody) -> MigrationRequest:
    plan = _plan(body.model_dump(exclude_none=True, exclude={"target"}))
    return MigrationRequest(_target(body.target), plan)


def rebuild_request(body: RebuildBody | None) -> RebuildRequest:
    if body is None:
        return RebuildRequest()
    return RebuildRequest(
        body.target, _plan(body.model_dump(exclude_none=True, exclude={"target"}))
    )


def plan_update(body: PlanBody) -> PlanUpdate:
    return PlanUpdate(body.shadow_sample, body.canary_steps, body.guardrails, body.inconclusive)


def config_change(body: ConfigBody) -> ConfigChange:
    """The body's free-form parts (search knobs by index, migration knobs) are read by the
    core's own parsers, which name an unknown knob or a bad value."""
    indexes = None
    if body.indexes is not None:
        indexes = {name: SearchParamsChange.from_dict(p) for name, p in body.indexes.items()}
    knobs = None if body.migration is None else PlanUpdate.from_dict(body.migration)
    return ConfigChange(indexes, knobs, body.reason or "set")


def _plan(fields: dict[str, Any]) -> Plan:
    return Plan(**fields)


def power_request(body: MigrationPlanBody) -> PowerRequest | None:
    """The eval-set question of a plan, or None; its knobs without an eval set are refused."""
    if body.eval_set is None:
        stray = {"guardrails", "power"} & body.model_fields_set
        if stray:
            raise InvalidInputError(f"{', '.join(sorted(stray))}: only with an eval_set")
        return None
    return PowerRequest(body.eval_set, body.guardrails, body.power)


def target_request(body: TargetBody) -> TargetRequest:
    return _target(body)


def _target(body: TargetBody) -> TargetRequest:
    embedder = None if body.embedder is None else EmbedderSpec.from_dict(body.embedder)
    return TargetRequest(
        name=body.name,
        factory=body.factory,
        metric=body.metric,
        backend=body.backend,
        embedder=embedder,
        search_params=SearchParams.from_dict(body.search_params),
    )
