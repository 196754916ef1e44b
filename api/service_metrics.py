"""The facade's numbers as Prometheus metric families, read at scrape time (one function a
part, each failing alone: ``api/metrics.py``'s ``ServiceCollector`` calls them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from indexes.errors import NotFoundError
from migrator import Switchover
from migrator.phases import Phase

GUARDRAIL_STATE = {"ok": 0, "hold": 1, "breach": 2}
RECALL_METRIC = "recall@10"


def gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def index_metrics(svc: Switchover) -> list[Metric]:
    documents = gauge(
        "switchover_index_documents", "Documents in each index version.", ["index", "role"]
    )
    applied = gauge(
        "switchover_index_applied_seq",
        "Last write-log sequence each index version applied.",
        ["index", "role"],
    )
    dead = gauge(
        "switchover_index_dead_vectors",
        "Replaced or deleted vectors an index version still stores (HNSW, IVF: tombstones);"
        " a rebuild purges them.",
        ["index", "role"],
    )
    dead_ratio = gauge(
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
    last_seq = gauge("switchover_log_last_seq", "Last sequence in the write log.", [])
    last_seq.add_metric([], svc.last_seq())
    return [documents, applied, dead, dead_ratio, last_seq]


def traffic_metrics(svc: Switchover) -> list[Metric]:
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


def migration_metrics(svc: Switchover) -> list[Metric]:
    """Phase, routed share, backfill and target lag of the current (or latest) migration."""
    try:
        status = svc.current_migration()
    except NotFoundError:
        return []
    mid = str(status.id)
    phase = gauge(
        "switchover_migration_phase",
        "1 for the migration's current phase, 0 for the others.",
        ["migration", "phase"],
    )
    for candidate in Phase:
        phase.add_metric([mid, candidate.value], 1 if candidate.value == status.phase else 0)
    share = gauge(
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
        family = gauge(name, doc, ["migration"])
        family.add_metric([mid], value)
        found.append(family)
    if status.live is not None:
        lag_records, lag_s = status.live.target_lag_records, status.live.target_lag_seconds
        for lag, name, doc in (
            (lag_records, "switchover_target_lag_records", "Log records the target lags."),
            (lag_s, "switchover_target_lag_seconds", "Age of its oldest unapplied."),
        ):
            family = gauge(name, doc, ["migration", "target"])
            family.add_metric([mid, status.target], lag)
            found.append(family)
    return found


def shadow_metrics(svc: Switchover) -> list[Metric]:
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
        overlap = gauge(
            "switchover_shadow_overlap_mean",
            "Mean overlap@k of the recent shadow reads with what was served (k as requested).",
            [],
        )
        overlap.add_metric([], stats.mean_overlap)
        found.append(overlap)
    return found


def guardrail_metrics(svc: Switchover) -> list[Metric]:
    state = gauge(
        "switchover_guardrail_state",
        "The watchdog's latest verdict per guardrail: 0 ok, 1 hold, 2 breach.",
        ["name"],
    )
    for check in svc.guardrail_checks():
        state.add_metric([check.name], GUARDRAIL_STATE.get(check.state, 1))
    return [state]


def watchdog_metrics(svc: Switchover) -> list[Metric]:
    """Whether the watchdog can judge: 0 while its ticks fail, its failures so far."""
    health = svc.watchdog_health()
    healthy = gauge(
        "switchover_watchdog_healthy",
        "1 while the watchdog's ticks succeed (or none has run yet), 0 while they fail.",
        [],
    )
    healthy.add_metric([], 0 if health.state == "failing" else 1)
    consecutive = gauge(
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
        last = gauge(
            "switchover_watchdog_last_tick_timestamp_seconds",
            "When the watchdog last ticked in a watched phase (Unix time).",
            [],
        )
        last.add_metric([], health.last_tick_at)
        found.append(last)
    return found


def recall_metrics(svc: Switchover) -> list[Metric]:
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
    recall = gauge(
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
    delta = gauge(
        "switchover_eval_recall_at_10_delta",
        "Paired mean recall@10 delta, target - source, of that eval run, and its truth.",
        ["migration", "source", "target", "truth"],
    )
    value = (summary.get("delta") or {}).get(RECALL_METRIC)
    if isinstance(value, int | float):
        delta.add_metric([mid, run.source, run.target, truth], value)
    return [recall, delta]
