"""Operator routes: the migration lifecycle and snapshots. Every one needs a token."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path

from migrator.moves import ACTIONS
from migrator.requests import ActionRequest
from migrator.views import ConfigView, MigrationStatus

from .auth import Operator, OperatorRoute, operator_name
from .deps import Service
from .errors import error_responses
from .operator_schemas import (
    ActionBody,
    ConfigBody,
    ConfigHistoryResponse,
    ConfigResponse,
    ConfigVersionResponse,
    EventListResponse,
    EventResponse,
    MigrationBody,
    MigrationEstimateResponse,
    MigrationPlanBody,
    MigrationResponse,
    PlanBody,
    RebuildBody,
    RevertBody,
)
from .requests import (
    config_change,
    migration_request,
    plan_update,
    power_request,
    rebuild_request,
    target_request,
)
from .schemas import RecordId, SnapshotResponse

log = logging.getLogger(__name__)

router = APIRouter(
    tags=["operator"],
    dependencies=[Depends(operator_name)],
    route_class=OperatorRoute,
    responses=error_responses(401, 503),
)
# A migration's status omits ``live``, ``guardrails`` and ``judgement`` once it is not live:
# its routes answer with ``response_model_exclude_unset=True`` so no null keys appear.


@router.post(
    "/v1/migrations",
    status_code=201,
    response_model=MigrationResponse,
    response_model_exclude_unset=True,
    responses=error_responses(400, 404, 409, 413, 422),
)
def create_migration(body: MigrationBody, svc: Service, operator: Operator) -> MigrationResponse:
    """Start a migration: register the target index; dual-write begins at once."""
    return _status(svc.create_migration(migration_request(body), operator))


@router.post(
    "/v1/migrations/plan",
    response_model=MigrationEstimateResponse,
    responses=error_responses(400, 404, 409, 413, 422),
)
def plan_migration(body: MigrationPlanBody, svc: Service) -> MigrationEstimateResponse:
    """Estimate a proposed target's backfill (time, memory, vector size) from a timed sample
    of the corpus's own texts and, with ``eval_set``, whether its paired queries are enough
    for the recall margin; checks the target as a start would, and creates nothing."""
    power = power_request(body)
    found = svc.plan_migration(target_request(body.target), body.sample, body.seed, power)
    return MigrationEstimateResponse.model_validate(found.to_dict())


@router.get(
    "/v1/migrations/current",
    response_model=MigrationResponse,
    response_model_exclude_unset=True,
    responses=error_responses(404),
)
def current_migration(svc: Service) -> MigrationResponse:
    """The active migration (or the latest one): phase, share, backfill, lag, shadow stats."""
    return _status(svc.current_migration())


@router.post(
    "/v1/migrations/{migration_id}/{action}",
    response_model=MigrationResponse,
    response_model_exclude_unset=True,
    responses=error_responses(400, 404, 409, 413, 422),
)
def migration_action(
    migration_id: RecordId,
    action: Annotated[
        str,
        Path(
            description="The move; any other name is 404",
            json_schema_extra={"enum": list(ACTIONS)},
        ),
    ],
    svc: Service,
    operator: Operator,
    body: ActionBody | None = Body(default=None),  # noqa: B008 - FastAPI's declaration style
) -> MigrationResponse:
    """One move: backfill, shadow, canary {percent}, cutover, rollback {reason}, resume,
    finalize or abort."""
    request = (
        ActionRequest() if body is None else ActionRequest(**body.model_dump(exclude_none=True))
    )
    return _status(svc.migration_action(migration_id, action, request, operator))


@router.patch(
    "/v1/migrations/{migration_id}/plan",
    response_model=MigrationResponse,
    response_model_exclude_unset=True,
    responses=error_responses(400, 404, 409, 413, 422),
)
def update_plan(
    migration_id: RecordId, body: PlanBody, svc: Service, operator: Operator
) -> MigrationResponse:
    """Change the live migration's shadow sample, canary steps or guardrails (audited)."""
    return _status(svc.update_migration_plan(migration_id, plan_update(body), operator))


@router.get(
    "/v1/migrations/{migration_id}/events",
    response_model=EventListResponse,
    responses=error_responses(404, 422),
)
def migration_events(migration_id: RecordId, svc: Service) -> EventListResponse:
    """The audit trail: who moved the migration, when, from where to where, why, with
    what numbers."""
    return EventListResponse(
        events=[EventResponse(**asdict(e)) for e in svc.migration_events(migration_id)]
    )


@router.post(
    "/v1/indexes/{name}/snapshot",
    response_model=SnapshotResponse,
    responses=error_responses(404, 409, 422),
)
def snapshot(name: str, svc: Service, operator: Operator) -> SnapshotResponse:
    """Write a snapshot of one index version now."""
    log.info("operator %s requested a snapshot of %s", operator, name)
    return SnapshotResponse(snapshots=[info.to_dict() for info in svc.snapshot(name)])


@router.post(
    "/v1/indexes/{name}/rebuild",
    status_code=201,
    response_model=MigrationResponse,
    response_model_exclude_unset=True,
    responses=error_responses(400, 404, 409, 413, 422),
)
def rebuild_index(
    name: str,
    svc: Service,
    operator: Operator,
    body: RebuildBody | None = Body(default=None),  # noqa: B008 - FastAPI's declaration style
) -> MigrationResponse:
    """Rebuild the primary without its dead vectors: a layout-only migration to the same
    spec and search parameters under a new name (default NAME-r2), copying only the live
    documents, then judged, rolled out and finalized like any other migration."""
    status = svc.rebuild(name, rebuild_request(body), operator)
    log.info("operator %s requested a rebuild of %s as %s", operator, name, status.target)
    return _status(status)


@router.get("/v1/config", response_model=ConfigResponse)
def get_config(svc: Service) -> ConfigResponse:
    """The runtime knobs in effect (search parameters, migration plan) and their version."""
    return _config(svc.config_view())


@router.put(
    "/v1/config", response_model=ConfigResponse, responses=error_responses(400, 404, 409, 413, 422)
)
def put_config(body: ConfigBody, svc: Service, operator: Operator) -> ConfigResponse:
    """Change knobs at once, without a rebuild; recorded as a new version."""
    return _config(svc.set_config(config_change(body), operator))


@router.get("/v1/config/history", response_model=ConfigHistoryResponse)
def config_history(svc: Service) -> ConfigHistoryResponse:
    return ConfigHistoryResponse(
        versions=[ConfigVersionResponse(**v.to_dict()) for v in svc.config_history()]
    )


@router.post(
    "/v1/config/revert",
    response_model=ConfigResponse,
    responses=error_responses(400, 404, 409, 413, 422),
)
def revert_config(
    svc: Service, operator: Operator, body: RevertBody | None = None
) -> ConfigResponse:
    """Re-apply an earlier version (default: the previous one) in one step."""
    return _config(svc.revert_config(body.version if body else None, operator))


def _status(status: MigrationStatus) -> MigrationResponse:
    """The status as answered: keys of a migration that is not live stay unset (absent)."""
    return MigrationResponse.model_validate(status.to_dict())


def _config(view: ConfigView) -> ConfigResponse:
    return ConfigResponse.model_validate(view.to_dict())
