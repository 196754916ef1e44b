"""/metrics: Prometheus text an exporter can scrape, and numbers that move with the service."""

from __future__ import annotations

import logging
import time

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from api.metrics import ServiceCollector
from evals import load_dataset
from indexes.errors import StorageError
from migrator import Settings, Switchover
from tests.api.conftest import service_of
from tests.conftest import OPERATOR, SAMPLE_DIR, open_client

TARGET = {"target": {"name": "v2", "factory": "HNSW32,Flat"}}
PHASES = (
    "planned",
    "backfilling",
    "shadow",
    "canary",
    "cutover",
    "finalized",
    "rolled_back",
    "aborted",
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


pytestmark = pytest.mark.documents(60)


def scrape(client: TestClient) -> Samples:
    """Every sample of one scrape, keyed by sample name and labels."""
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, metric: str, /, **labels: str) -> float:
    """One sample's value; 0 when the series is absent (as a fresh counter would read)."""
    return samples.get((metric, frozenset(labels.items())), 0.0)


def phase_of(samples: Samples, migration: int) -> list[str]:
    """The phases whose gauge reads 1 (exactly one, when all is well)."""
    return [
        p
        for p in PHASES
        if value(samples, "switchover_migration_phase", migration=str(migration), phase=p) == 1
    ]


def start_migration(client: TestClient, **plan: object) -> int:
    """Create the v2 migration and run its backfill to the end."""
    created = client.post("/v1/migrations", json={**TARGET, **plan}, headers=OPERATOR)
    assert created.status_code == 201
    mid: int = created.json()["id"]
    assert client.post(f"/v1/migrations/{mid}/backfill", headers=OPERATOR).status_code == 200
    service_of(client).wait_backfill()
    return mid


def test_metrics_are_prometheus_text_and_need_no_token(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    families = {f.name for f in text_string_to_metric_families(response.text)}
    assert {
        "switchover_http_request_duration_seconds",
        "switchover_http_requests",
        "switchover_search_duration_seconds",
        "switchover_index_documents",
        "switchover_index_applied_seq",
        "switchover_served_reads",
        "switchover_search_errors",
        "switchover_guardrail_state",
        "switchover_rollbacks",
        "switchover_shadow_reads_completed",
    } <= families
    samples = scrape(client)
    assert value(samples, "switchover_index_documents", index="v1", role="primary") == 60
    assert value(samples, "switchover_index_applied_seq", index="v1", role="primary") == 60
    assert value(samples, "switchover_log_last_seq") == 60


def test_search_traffic_moves_the_latency_histogram_and_the_served_counter(
    client: TestClient,
) -> None:
    before = scrape(client)
    for i in range(5):
        assert client.post("/v1/search", json={"query": f"gear {i}", "k": 3}).status_code == 200
    after = scrape(client)
    route = {"route": "/v1/search", "method": "POST", "status": "200"}
    for name in (
        "switchover_http_request_duration_seconds_count",
        "switchover_http_requests_total",
    ):
        assert value(after, name, **route) - value(before, name, **route) == 5
    searched = {"index": "v1", "route": "/v1/search"}
    count = "switchover_search_duration_seconds_count"
    assert value(after, count, **searched) - value(before, count, **searched) == 5
    served = "switchover_served_reads_total"
    assert value(after, served, index="v1") - value(before, served, index="v1") == 5


def test_routes_are_labelled_by_template_not_by_raw_path(client: TestClient) -> None:
    client.get("/v1/documents/d7")
    client.get("/v1/documents/no/such/doc")
    client.get("/no-such-route")
    samples = scrape(client)
    requests = "switchover_http_requests_total"
    assert value(samples, requests, route="/v1/documents/{doc_id}", method="GET", status="200") == 1
    assert value(samples, requests, route="/v1/documents/{doc_id}", method="GET", status="404") == 1
    assert value(samples, requests, route="unmatched", method="GET", status="404") == 1
    assert not any("d7" in dict(labels).get("route", "") for _, labels in samples)


def test_a_migration_moves_phase_share_backfill_and_rollbacks(client: TestClient) -> None:
    assert phase_of(scrape(client), 1) == []  # no migration yet: no phase series
    mid = start_migration(client)
    samples = scrape(client)
    assert phase_of(samples, mid) == ["backfilling"]
    assert value(samples, "switchover_backfill_done_documents", migration=str(mid)) == 60
    assert value(samples, "switchover_backfill_expected_documents", migration=str(mid)) == 60
    assert value(samples, "switchover_index_documents", index="v2", role="target") == 60
    assert value(samples, "switchover_target_lag_records", migration=str(mid), target="v2") == 0

    client.post(f"/v1/migrations/{mid}/shadow", headers=OPERATOR)
    assert phase_of(scrape(client), mid) == ["shadow"]

    canary = {"percent": 50, "override": True}
    assert client.post(f"/v1/migrations/{mid}/canary", json=canary, headers=OPERATOR).is_success
    samples = scrape(client)
    assert phase_of(samples, mid) == ["canary"]
    share = "switchover_migration_target_share_percent"
    assert value(samples, share, migration=str(mid), target="v2") == 50
    for i in range(40):
        client.post(
            "/v1/search", json={"query": "lamp", "k": 3}, headers={"X-Routing-Key": f"u{i}"}
        )
    samples = scrape(client)
    assert value(samples, "switchover_served_reads_total", index="v2") > 0
    searched = {"index": "v2", "route": "/v1/search"}
    assert value(samples, "switchover_search_duration_seconds_count", **searched) > 0

    reason = {"reason": "test"}
    assert client.post(f"/v1/migrations/{mid}/rollback", json=reason, headers=OPERATOR).is_success
    samples = scrape(client)
    assert phase_of(samples, mid) == ["rolled_back"]
    assert value(samples, share, migration=str(mid), target="v2") == 0
    assert value(samples, "switchover_rollbacks_total", cause="operator") == 1
    assert value(samples, "switchover_rollbacks_total", cause="watchdog") == 0


def test_a_watchdog_rollback_is_counted_apart_and_guardrails_show_their_state(
    client: TestClient,
) -> None:
    # a latency ceiling no shadow read can meet: the first judged window breaches
    rails = {"latency": {"max_p95_ratio": 0.001, "min_samples": 1}}
    mid = start_migration(client, shadow_sample=1.0, guardrails=rails)
    client.post(f"/v1/migrations/{mid}/shadow", headers=OPERATOR)
    svc = service_of(client)
    svc.watchdog.tick()
    samples = scrape(client)
    assert value(samples, "switchover_guardrail_state", name="recall") == 1  # no eval set
    assert value(samples, "switchover_guardrail_state", name="lag") == 0

    for i in range(5):
        client.post("/v1/search", json={"query": f"tide {i}", "k": 3})
    svc.reads.shadow.drain()
    svc.watchdog.tick()  # the background watchdog may get there first; either way it acts
    samples = scrape(client)
    assert phase_of(samples, mid) == ["rolled_back"]
    assert value(samples, "switchover_guardrail_state", name="latency") == 2
    assert value(samples, "switchover_rollbacks_total", cause="watchdog") == 1
    assert value(samples, "switchover_rollbacks_total", cause="operator") == 0
    assert value(samples, "switchover_shadow_reads_completed_total") >= 5
    assert value(samples, "switchover_shadow_overlap_mean") > 0


def test_rollbacks_of_ended_migrations_still_count(client: TestClient) -> None:
    mid = start_migration(client)
    client.post(f"/v1/migrations/{mid}/shadow", headers=OPERATOR)
    client.post(f"/v1/migrations/{mid}/rollback", json={"reason": "one"}, headers=OPERATOR)
    client.post(f"/v1/migrations/{mid}/abort", headers=OPERATOR)
    for _ in range(2):  # the second scrape reads the ended migration's cached count
        samples = scrape(client)
        assert value(samples, "switchover_rollbacks_total", cause="operator") == 1
        assert phase_of(samples, mid) == ["aborted"]


def test_recall_gauges_match_the_newest_eval_run(settings: Settings) -> None:
    with open_client(settings) as client:
        data = load_dataset(SAMPLE_DIR)
        docs = [{"id": d.id, "text": d.embedding_text()} for d in data.corpus]
        client.put("/v1/documents", json={"documents": docs})
        eval_set = {"name": "sample", "path": str(SAMPLE_DIR), "sample": 100, "seed": 3}
        assert client.post("/v1/eval-sets", json=eval_set, headers=OPERATOR).status_code == 201
        mid = start_migration(client)
        job = client.post("/v1/evals", json={"eval_set": "sample"}, headers=OPERATOR).json()
        deadline = time.monotonic() + 60
        record = client.get(f"/v1/evals/{job['id']}", headers=OPERATOR).json()
        while record["report"].get("status") == "running" and time.monotonic() < deadline:
            time.sleep(0.05)
            record = client.get(f"/v1/evals/{job['id']}", headers=OPERATOR).json()
        summary = record["report"]["summary"]
        samples = scrape(client)
    recall = "switchover_eval_recall_at_10"
    source, target = summary["source"]["recall@10"], summary["target"]["recall@10"]
    truth = summary["truth"]
    assert truth == "qrels"  # the sample folder has qrels.tsv
    on = {"migration": str(mid), "truth": truth}
    assert value(samples, recall, index="v1", **on) == pytest.approx(source)
    assert value(samples, recall, index="v2", **on) == pytest.approx(target)
    assert value(samples, recall, index="v1", **on) > 0
    delta = value(samples, "switchover_eval_recall_at_10_delta", source="v1", target="v2", **on)
    assert delta == pytest.approx(summary["delta"]["recall@10"])


def test_a_failing_part_is_logged_and_the_rest_still_reports(
    service: Switchover, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> list[object]:
        raise StorageError("database is locked (test)")

    monkeypatch.setattr(service, "indexes", broken)
    with caplog.at_level(logging.WARNING, logger="api.metrics"):
        names = {m.name for m in ServiceCollector(lambda: service).collect()}
    assert "switchover_index_documents" not in names
    assert {"switchover_served_reads", "switchover_rollbacks"} <= names
    assert "index_metrics failed" in caplog.text


def test_two_apps_in_one_process_keep_their_own_registries(settings: Settings) -> None:
    with open_client(settings) as first:
        first.post("/v1/search", json={"query": "lamp"})
        first.post("/v1/search", json={"query": "lamp"})
    with open_client(settings) as second:
        second.post("/v1/search", json={"query": "lamp"})
        samples = scrape(second)
    route = {"route": "/v1/search", "method": "POST", "status": "200"}
    assert value(samples, "switchover_http_requests_total", **route) == 1
