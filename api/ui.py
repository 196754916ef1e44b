"""The status page: ``GET /ui`` (static HTML, JS and CSS; no build step) and its data,
``GET /ui/status.json``.

Read-only and open like the retrieval routes: no operator token. The snapshot holds what an
operator watches (phase, routed share, backfill, guardrails, target lag, p95 latency per
index, the audit trail, eval-run summaries), never tokens and never per-query results.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from importlib.resources import files
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse

from indexes.errors import NotFoundError
from migrator import IndexInfo, Switchover
from migrator.store import EvalRunRecord

from .deps import Service
from .errors import error_responses
from .operator_schemas import StatusPageResponse

router = APIRouter(tags=["status page"])

EVENT_LIMIT = 200  # newest audit events in a snapshot, across migrations
MIGRATION_LIMIT = 20  # how many migrations back the timeline reaches
EVAL_RUN_LIMIT = 50  # newest eval runs, summaries only
EVAL_RUNS_TTL_S = 3.0  # stored reports carry every query: load them once per TTL, not per poll
LATENCY_WINDOW_S = 300.0
REPORT_KEYS = ("summary", "judgement", "status", "error")
META_KEYS = ("at", "eval_set", "eval_set_sample", "source", "target", "phase", "origin")

_ASSETS = {"ui.js": "text/javascript", "ui.css": "text/css"}
# The page talks to its own origin only; scripts and styles come from files, never inline.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HEADERS = {"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff"}


@router.get("/ui", response_class=HTMLResponse)
def page() -> HTMLResponse:
    """The live status page; it polls ``/ui/status.json`` every 2 s."""
    return HTMLResponse(_asset("ui.html"), headers=_HEADERS)


@router.get(
    "/ui/static/{name}",
    response_class=Response,
    responses={
        200: {
            "content": {media: {"schema": {"type": "string"}} for media in _ASSETS.values()},
            "description": "The asset",
        },
        **error_responses(404),
    },
)
def asset(
    name: Annotated[str, PathParam(json_schema_extra={"enum": sorted(_ASSETS)})],
) -> Response:
    """The page's script and stylesheet (package data beside this module)."""
    if name not in _ASSETS:
        raise NotFoundError(f"no status-page asset named {name!r}")
    return Response(_asset(name), media_type=_ASSETS[name], headers=_HEADERS)


@router.get("/ui/status.json", response_model=StatusPageResponse, responses=error_responses(503))
def status(request: Request, svc: Service, response: Response) -> dict[str, Any]:
    """A read-only snapshot for the status page (no token; no secrets in it)."""
    response.headers["Cache-Control"] = "no-store"
    return snapshot(svc, eval_runs=_eval_run_memo(request).get(lambda: eval_runs(svc)))


def snapshot(svc: Switchover, *, eval_runs: list[dict[str, Any]]) -> dict[str, Any]:
    try:
        migration: dict[str, Any] | None = svc.current_migration().to_dict()
    except NotFoundError:
        migration = None
    payload: dict[str, Any] = _json_safe(
        {
            "generated_at": time.time(),
            "health": svc.health().to_dict(),
            "indexes": [index_summary(svc, info) for info in svc.indexes()],
            "migration": migration,
            "events": timeline(svc, migration["id"]) if migration else [],
            "eval_runs": eval_runs,
        }
    )
    return payload


def index_summary(svc: Switchover, info: IndexInfo) -> dict[str, Any]:
    """One index version: layout, count, lag and its p95 latency over the last 5 minutes."""
    latencies = svc.latencies_ms(info.name, LATENCY_WINDOW_S)
    return {
        "name": info.name,
        "role": info.role,
        "factory": info.spec.factory,
        "metric": info.spec.metric,
        "embedder": info.spec.embedder.model,
        "search_params": info.search_params,
        "count": info.count,
        "applied_seq": info.applied_seq,
        "lag_records": info.lag_records,
        "lag_seconds": info.lag_seconds,
        "last_error": info.last_error,
        "p95_ms": float(np.percentile(latencies, 95)) if latencies else None,
        "latency_samples": len(latencies),
    }


def timeline(svc: Switchover, newest: int) -> list[dict[str, Any]]:
    """Audit events, newest first, walking back from migration ``newest``."""
    events: list[dict[str, Any]] = []
    for migration_id in range(newest, max(newest - MIGRATION_LIMIT, 0), -1):
        try:
            found = svc.migration_events(migration_id)
        except NotFoundError:
            continue
        events += [asdict(event) for event in reversed(found)]
        if len(events) >= EVENT_LIMIT:
            break
    return events[:EVENT_LIMIT]


def eval_runs(svc: Switchover) -> list[dict[str, Any]]:
    """The newest eval runs as summaries: the per-query results stay out."""
    return [_eval_run(record) for record in svc.eval_runs()[:EVAL_RUN_LIMIT]]


def _eval_run(record: EvalRunRecord) -> dict[str, Any]:
    report = record.report or {}
    meta = report.get("meta") or {}
    return {
        **{key: value for key, value in record.to_dict().items() if key != "report"},
        **{key: report.get(key) for key in REPORT_KEYS},
        "meta": {key: meta[key] for key in META_KEYS if key in meta},
    }


class _Memo:
    """At most one load per ``ttl_s``, however many pages poll."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._loaded_at = -math.inf
        self._value: list[dict[str, Any]] = []

    def get(self, load: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        with self._lock:
            if time.monotonic() - self._loaded_at >= self.ttl_s:
                self._value, self._loaded_at = load(), time.monotonic()
            return self._value


def _eval_run_memo(request: Request) -> _Memo:
    memo: _Memo | None = getattr(request.app.state, "ui_eval_runs", None)
    if memo is None:  # a race here builds two memos; one wins, no harm
        memo = request.app.state.ui_eval_runs = _Memo(EVAL_RUNS_TTL_S)
    return memo


def _asset(name: str) -> str:
    return (files("api") / "static" / name).read_text(encoding="utf-8")


def _json_safe(value: Any) -> Any:
    """Strict JSON: non-finite floats become null (the encoder refuses NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value
