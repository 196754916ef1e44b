"""Eval sets and eval jobs: register a sample, run it on two index versions, read reports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, PlainTextResponse

from evals import to_html, to_markdown
from migrator.requests import EvalRequest

from .auth import OperatorRoute, operator_name
from .deps import Service
from .errors import error_responses
from .operator_schemas import (
    EvalBody,
    EvalListResponse,
    EvalRunResponse,
    EvalSetBody,
    EvalSetListResponse,
    EvalSetResponse,
    EvalStartResponse,
)
from .schemas import INT64_MAX, RecordId

router = APIRouter(
    tags=["evals"],
    dependencies=[Depends(operator_name)],
    route_class=OperatorRoute,
    responses=error_responses(401, 503),
)
_REPORTS = {
    "content": {
        "text/markdown": {"schema": {"type": "string"}},
        "text/html": {"schema": {"type": "string"}},
    },
    "description": "The run as JSON, or its report as markdown or HTML (``format``)",
}


@router.post(
    "/v1/eval-sets",
    status_code=201,
    response_model=EvalSetResponse,
    response_model_exclude_unset=True,
    responses=error_responses(400, 409, 413, 422),
)
def add_eval_set(body: EvalSetBody, svc: Service) -> EvalSetResponse:
    """Register a seeded sample of a BEIR-layout folder on the server (hash recorded)."""
    info = svc.add_eval_set(body.name, body.path, body.sample, body.seed)
    return EvalSetResponse.model_validate(info.to_dict())


@router.get("/v1/eval-sets", response_model=EvalSetListResponse)
def list_eval_sets(svc: Service) -> EvalSetListResponse:
    sets = [EvalSetResponse.model_validate(info.to_dict()) for info in svc.eval_sets()]
    return EvalSetListResponse(eval_sets=sets)


@router.post(
    "/v1/evals",
    status_code=202,
    response_model=EvalStartResponse,
    responses=error_responses(400, 404, 413, 422),
)
def start_eval(body: EvalBody, svc: Service) -> EvalStartResponse:
    """Run an eval set on two index versions (default: the migration's) in the background."""
    request = EvalRequest(body.eval_set, body.source, body.target, body.limit, body.margin)
    return EvalStartResponse.model_validate(svc.start_eval(request).to_dict())


@router.get("/v1/evals", response_model=EvalListResponse, responses=error_responses(422))
def list_evals(
    svc: Service,
    migration_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
) -> dict[str, Any]:
    runs = svc.eval_runs(migration_id)
    return {"evals": [{k: v for k, v in r.to_dict().items() if k != "report"} for r in runs]}


@router.get(
    "/v1/evals/{run_id}",
    response_model=EvalRunResponse,
    responses={200: _REPORTS, **error_responses(404, 422)},
)
def get_eval(
    run_id: RecordId,
    svc: Service,
    format: str = Query(default="json", pattern="^(json|markdown|html)$"),
) -> dict[str, Any] | HTMLResponse | PlainTextResponse:
    """One eval run: status, summary, judgement; ``format=markdown|html`` for the report."""
    record = svc.eval_run(run_id)
    report = record.report
    if format == "json" or "summary" not in report:
        return record.to_dict()
    if format == "markdown":
        return PlainTextResponse(to_markdown(report), media_type="text/markdown")
    history = [r.report for r in svc.eval_runs(record.migration_id) if "summary" in r.report]
    return HTMLResponse(to_html(report, history=history))
