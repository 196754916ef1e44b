"""Prometheus metrics: ``GET /metrics`` in the text exposition format, no token needed.

Each app has its own ``CollectorRegistry`` (``app.state.metrics``), so several apps in one
process never collide. Two sources feed it:

* ``MetricsMiddleware`` times every request by route template, method and status, and
  every search by the index that served it (its ``X-Served-By`` header).
* ``ServiceCollector`` reads the facade at scrape time: migration phase, routed share,
  backfill progress, target lag, shadow reads, guardrail states, the watchdog's health, the
  newest eval run's recall@10, rollbacks by cause, per-index counts and applied sequences,
  served reads and search errors by index, and each slice's share and judgement
  (``api/slice_metrics.py``). A failing part is logged and left out; a scrape
  never fails.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import prometheus_client as prom
from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indexes.errors import NotFoundError
from migrator import Switchover
from migrator.phases import Phase
from migrator.store import Event

from .logs import header, method_label, route_template
from .slice_metrics import slice_metrics

log = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])

# Searches on the hash embedder take well under a millisecond; real models tens of ms.
SEARCH_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
GUARDRAIL_STATE = {"ok": 0, "hold": 1, "breach": 2}
RECALL_METRIC = "recall@10"
ENDED = frozenset({Phase.FINALIZED.value, Phase.ABORTED.value})


class Metrics:
    """One app's registry: the request instruments plus the scrape-time collector."""

    def __init__(self, app: FastAPI) -> None:
        self.registry = prom.CollectorRegistry()
        self.request_seconds = prom.Histogram(
            "switchover_http_request_duration_seconds",
            "HTTP request latency by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
            buckets=REQUEST_BUCKETS,
        )
        self.requests = prom.Counter(
            "switchover_http_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.search_seconds = prom.Histogram(
            "switchover_search_duration_seconds",
            "Search request latency by the index that served it (X-Served-By) and route.",
            ["index", "route"],
            registry=self.registry,
            buckets=SEARCH_BUCKETS,
        )
        self.registry.register(ServiceCollector(lambda: _service_of(app)))

    def observe(self, scope: Scope, status: int, served_by: str | None, seconds: float) -> None:
        route, method = route_template(scope), method_label(scope)
        self.request_seconds.labels(route, method, str(status)).observe(seconds)
        self.requests.labels(route, method, str(status)).inc()
        if served_by is not None and route.endswith("/search"):
            self.search_seconds.labels(served_by, route).observe(seconds)

    def exposition(self) -> bytes:
        return prom.generate_latest(self.registry)


def install_metrics(app: FastAPI) -> None:
    """Give ``app`` its registry, the timing middleware and ``GET /metrics``."""
    app.state.metrics = Metrics(app)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.include_router(router)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """The Prometheus text exposition of this app's registry."""
    own: Metrics = request.app.state.metrics
    return Response(own.exposition(), media_type=prom.CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Times each request to its last byte; the route label is the template, not the path."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status, served_by = 500, None  # an exception escaping the app becomes a 500

        async def watching_send(message: Message) -> None:
            nonlocal status, served_by
            if message["type"] == "http.response.start":
                status = int(message["status"])
                served_by = header(message, b"x-served-by")
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        finally:
            self.metrics.observe(scope, status, served_by, time.perf_counter() - started)


def _service_of(app: FastAPI) -> Switchover | None:
    service = getattr(app.state, "service", None)
    return service if isinstance(service, Switchover) else None


# -- the scrape-time collector ---------------------------------------------------------------


class ServiceCollector:
    """Reads the facade at scrape time; each part fails alone, logged, and is left out."""

    def __init__(self, service: Callable[[], Switchover | None]) -> None:
        self._service = service
        # rollback counts of ended migrations, whose audit trails can no longer grow
        self._ended_rollbacks: dict[int, Counter[str]] = {}

    def collect(self) -> Iterable[Metric]:
        svc = self._service()
        if svc is None:  # the lifespan has not opened the service yet
            return
        parts: tuple[Callable[[Switchover], list[Metric]], ...] = (
            _index_metrics,
            _traffic_metrics,
            _migration_metrics,
            _shadow_metrics,
            _guardrail_metrics,
            _watchdog_metrics,
            _recall_metrics,
            slice_metrics,
            self._rollback_metrics,
        )
        for part in parts:
            try:
                found = part(svc)
            except Exception:  # a scrape must never fail; the rest still reports
                log.warning(
                    "metrics: %s failed; left out of this scrape", part.__name__, exc_info=True
                )
                continue
            yield from found

    def _rollback_metrics(self, svc: Switchover) -> list[Metric]:
        """``switchover_rollbacks_total{cause}``: rolled_back events, by the watchdog or not."""
        latest = svc.latest_migration()
        totals: Counter[str] = Counter({"watchdog": 0, "operator": 0, "inconclusive": 0})
        for migration_id in range(1, (latest.id if latest else 0) + 1):
            counted = self._ended_rollbacks.get(migration_id)
            if counted is None:
                counted = self._count_rollbacks(svc, migration_id)
            totals.update(counted)
        family = CounterMetricFamily(
            "switchover_rollbacks",
            "Migrations rolled back, by cause: the watchdog on a guardrail breach, the plan's"
            " inconclusive policy on a judgement that held too long, or an operator.",
            labels=["cause"],
        )
        for cause, count in sorted(totals.items()):
            family.add_metric([cause], count)
        return [family]

    def _count_rollbacks(self, svc: Switchover, migration_id: int) -> Counter[str]:
        try:
            events = svc.migration_events(migration_id)
        except NotFoundError:
            return Counter()
        counted = Counter(_cause(e) for e in events if e.to_phase == Phase.ROLLED_BACK.value)
        if events and events[-1].to_phase in ENDED:
            self._ended_rollbacks[migration_id] = counted
        return counted


def _cause(event: Event) -> str:
    if event.actor != "watchdog":
        return "operator"
    return "inconclusive" if event.reason.startswith("inconclusive") else "watchdog"


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def _index_metrics(svc: Switchover) -> list[Metric]:
    documents = _gauge(
        "switchover_index_documents", "Documents in each index version.", ["index", "role"]
    )
    applied = _gauge(
        "switchover_index_applied_seq",
        "Last write-log sequence each index version applied.",
        ["index", "role"],
    )
    dead = _gauge(
        "switchover_index_dead_vectors",
        "Replaced or deleted vectors an index version still stores (HNSW, IVF: tombstones);"
        " a rebuild purges them.",
        ["index", "role"],
    )
    dead_ratio = _gauge(
        "switchover_index_dead_ratio",
        "Dead vectors as a share of the vectors an index version stores.",
        ["index", "role"],
    )
    for info in svc.indexes():
        documents.add_metric([info.name, info.role], info.count)
        applied.add_metric([info.name, info.role], info.applied_seq)
        if "dead_vectors" in info.stats:  # a live index
            dead.add_metric([info.name, info.role], info.stats["dead_vectors"])
            dead_ratio.add_metric([info.name, info.role], info.stats["dead_ratio"])
    last_seq = _gauge("switchover_log_last_seq", "Last sequence in the write log.", [])
    last_seq.add_metric([], svc.last_seq())
    return [documents, applied, dead, dead_ratio, last_seq]


def _traffic_metrics(svc: Switchover) -> list[Metric]:
    """Served, failed and lagging reads by index: the facade's own counters, as they are."""
    served = CounterMetricFamily(
        "switchover_served_reads",
        "Routed searches answered, by the index that served them (since the process started).",
        labels=["index"],
    )
    errors = CounterMetricFamily(
        "switchover_search_errors",
        "Routed searches an index failed (answered by the fallback), by index.",
        labels=["index"],
    )
    lagging = CounterMetricFamily(
        "switchover_lagging_reads",
        "Searches routed to an index that had not yet applied every acknowledged write,"
        " answered by the source instead (read your writes; not an error), by index.",
        labels=["index"],
    )
    traffic = svc.traffic()
    for family, counts in (
        (served, traffic.served),
        (errors, traffic.errors),
        (lagging, traffic.lagging),
    ):
        for index, count in sorted(dict(counts).items()):
            family.add_metric([index], count)
    return [served, errors, lagging]


def _migration_metrics(svc: Switchover) -> list[Metric]:
    """Phase, routed share, backfill and target lag of the current (or latest) migration."""
    try:
        status = svc.current_migration()
    except NotFoundError:
        return []
    mid = str(status.id)
    phase = _gauge(
        "switchover_migration_phase",
        "1 for the migration's current phase, 0 for the others.",
        ["migration", "phase"],
    )
    for candidate in Phase:
        phase.add_metric([mid, candidate.value], 1 if candidate.value == status.phase else 0)
    share = _gauge(
        "switchover_migration_target_share_percent",
        "Percent of routed reads the target serves.",
        ["migration", "target"],
    )
    share.add_metric([mid, status.target], float(status.target_share))
    found: list[Metric] = [phase, share]
    done, total = status.backfill.done, status.backfill.total
    for value, name, doc in (
        (done, "switchover_backfill_done_documents", "Documents the backfill has copied."),
        (total, "switchover_backfill_expected_documents", "Documents the backfill copies."),
    ):
        gauge = _gauge(name, doc, ["migration"])
        gauge.add_metric([mid], value)
        found.append(gauge)
    if status.live is not None:
        lag_records, lag_s = status.live.target_lag_records, status.live.target_lag_seconds
        for lag, name, doc in (
            (lag_records, "switchover_target_lag_records", "Log records the target lags."),
            (lag_s, "switchover_target_lag_seconds", "Age of its oldest unapplied."),
        ):
            gauge = _gauge(name, doc, ["migration", "target"])
            gauge.add_metric([mid, status.target], lag)
            found.append(gauge)
    return found


def _shadow_metrics(svc: Switchover) -> list[Metric]:
    stats = svc.shadow_stats()
    found: list[Metric] = []
    for count, name, doc in (
        (stats.completed, "switchover_shadow_reads_completed", "Shadow reads run (with errors)."),
        (stats.dropped, "switchover_shadow_reads_dropped", "Shadow reads dropped: queue full."),
        (stats.errors, "switchover_shadow_read_errors", "Shadow reads that failed."),
    ):
        counter = CounterMetricFamily(name, doc)
        counter.add_metric([], count)
        found.append(counter)
    if stats.mean_overlap is not None:
        overlap = _gauge(
            "switchover_shadow_overlap_mean",
            "Mean overlap@k of the recent shadow reads with what was served (k as requested).",
            [],
        )
        overlap.add_metric([], stats.mean_overlap)
        found.append(overlap)
    return found


def _guardrail_metrics(svc: Switchover) -> list[Metric]:
    state = _gauge(
        "switchover_guardrail_state",
        "The watchdog's latest verdict per guardrail: 0 ok, 1 hold, 2 breach.",
        ["name"],
    )
    for check in svc.guardrail_checks():
        state.add_metric([check.name], GUARDRAIL_STATE.get(check.state, 1))
    return [state]


def _watchdog_metrics(svc: Switchover) -> list[Metric]:
    """Whether the watchdog can judge: 0 while its ticks fail, its failures so far."""
    health = svc.watchdog_health()
    healthy = _gauge(
        "switchover_watchdog_healthy",
        "1 while the watchdog's ticks succeed (or none has run yet), 0 while they fail.",
        [],
    )
    healthy.add_metric([], 0 if health.state == "failing" else 1)
    consecutive = _gauge(
        "switchover_watchdog_consecutive_failures",
        "Watchdog ticks failed in a row; at the fail-safe limit reads on the target roll back.",
        [],
    )
    consecutive.add_metric([], health.consecutive_failures)
    failures = CounterMetricFamily(
        "switchover_watchdog_failures",
        "Watchdog ticks that failed (raised) since the process started.",
    )
    failures.add_metric([], health.failures_total)
    found: list[Metric] = [healthy, consecutive, failures]
    if health.last_tick_at is not None:
        last = _gauge(
            "switchover_watchdog_last_tick_timestamp_seconds",
            "When the watchdog last ticked in a watched phase (Unix time).",
            [],
        )
        last.add_metric([], health.last_tick_at)
        found.append(last)
    return found


def _recall_metrics(svc: Switchover) -> list[Metric]:
    """recall@10 per index and target - source, from the migration's newest finished run."""
    latest = svc.latest_migration()
    if latest is None:
        return []
    runs = svc.eval_runs(latest.id, limit=10)  # newest first; no scan of old reports
    run = next((r for r in runs if r.report.get("summary")), None)
    if run is None:
        return []
    summary: Mapping[str, Any] = run.report["summary"]
    mid, truth = str(latest.id), str(summary.get("truth", "unknown"))
    recall = _gauge(
        "switchover_eval_recall_at_10",
        "recall@10 per index in the newest eval run of the current (or latest) migration;"
        " truth: qrels, known-item or exact.",
        ["migration", "index", "truth"],
    )
    for side in ("source", "target"):
        value = (summary.get(side) or {}).get(RECALL_METRIC)
        if isinstance(value, int | float):
            name = run.source if side == "source" else run.target
            recall.add_metric([mid, name, truth], value)
    delta = _gauge(
        "switchover_eval_recall_at_10_delta",
        "Paired mean recall@10 delta, target - source, of that eval run, and its truth.",
        ["migration", "source", "target", "truth"],
    )
    value = (summary.get("delta") or {}).get(RECALL_METRIC)
    if isinstance(value, int | float):
        delta.add_metric([mid, run.source, run.target, truth], value)
    return [recall, delta]
