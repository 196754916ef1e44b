"""Prometheus metrics: ``GET /metrics`` in the text exposition format, no token needed.

Each app has its own ``CollectorRegistry`` (``app.state.metrics``), so several apps in one
process never collide. Two sources feed it:

* ``MetricsMiddleware`` times every request by route template, method and status, and
  every search by the index that served it (its ``X-Served-By`` header).
* ``ServiceCollector`` reads the facade at scrape time: migration phase, routed share,
  backfill progress, target lag, shadow reads, guardrail states, the watchdog's health, the
  newest eval run's recall@10, rollbacks by cause, per-index counts and applied sequences,
  served reads and search errors by index, and each slice's share and judgement
  (``api/service_metrics.py``, ``api/slice_metrics.py``). A failing part is logged and
  left out; a scrape never fails.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable

import prometheus_client as prom
from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client.metrics_core import CounterMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indexes.errors import NotFoundError
from migrator import Switchover
from migrator.phases import Phase
from migrator.store import Event

from .logs import header, method_label, route_template
from .service_metrics import (
    guardrail_metrics,
    index_metrics,
    migration_metrics,
    recall_metrics,
    shadow_metrics,
    traffic_metrics,
    watchdog_metrics,
)
from .slice_metrics import slice_metrics

log = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])

# Searches on the hash embedder take well under a millisecond; real models tens of ms.
SEARCH_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
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
        # Each label set's children, found once: prometheus_client's labels() checks and
        # locks on every call (3 calls cost a search about 6 us). The keys are bounded as
        # the metrics' own label sets are: route templates, methods, statuses, index names.
        self._request_children: dict[tuple[str, str, int], tuple[prom.Histogram, prom.Counter]] = {}
        self._search_children: dict[tuple[str, str], prom.Histogram] = {}

    def observe(self, scope: Scope, status: int, served_by: str | None, seconds: float) -> None:
        route, method = route_template(scope), method_label(scope)
        key = (route, method, status)
        children = self._request_children.get(key)
        if children is None:
            labels = (route, method, str(status))
            children = (self.request_seconds.labels(*labels), self.requests.labels(*labels))
            self._request_children[key] = children
        timing, count = children
        timing.observe(seconds)
        count.inc()
        if served_by is not None and route.endswith("/search"):
            search = self._search_children.get((served_by, route))
            if search is None:
                search = self.search_seconds.labels(served_by, route)
                self._search_children[served_by, route] = search
            search.observe(seconds)

    def exposition(self) -> bytes:
        return prom.generate_latest(self.registry)


def install_metrics(app: FastAPI) -> None:
    """Give ``app`` its registry and the timing middleware; ``GET /metrics`` is ``router``,
    which the app includes after the routes that serve traffic (FastAPI matches a request
    against each included router in turn: one more ahead of the search costs it 8 us)."""
    app.state.metrics = Metrics(app)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)


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
            index_metrics,
            traffic_metrics,
            migration_metrics,
            shadow_metrics,
            guardrail_metrics,
            watchdog_metrics,
            recall_metrics,
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
