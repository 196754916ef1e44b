"""The status page: served by the API with no build step, open to read, never a secret in it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import ui
from migrator import Settings
from tests.api.conftest import service_of
from tests.conftest import OPERATOR

TARGET = {"target": {"name": "v2", "factory": "HNSW32,Flat"}, "canary_steps": [10, 50]}


pytestmark = pytest.mark.documents(40)


def status(client: TestClient) -> dict[str, Any]:
    response = client.get("/ui/status.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


def test_the_page_is_html_without_a_token_and_loads_only_its_own_assets(
    client: TestClient,
) -> None:
    page = client.get("/ui")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    urls = re.findall(r'(?:src|href)="([^"]*)"', page.text)
    assert urls, "the page names its script and stylesheet"
    for url in urls:
        assert not url.startswith(("http:", "https:", "//")), f"external asset {url}"
    for url in ("ui/static/ui.js", "ui/static/ui.css"):
        assert url in urls
        asset = client.get(f"/{url}")
        assert asset.status_code == 200
        assert "nosniff" in asset.headers["x-content-type-options"]
    assert client.get("/ui/static/ui.js").headers["content-type"].startswith("text/javascript")
    assert "ui/status.json" in client.get("/ui/static/ui.js").text


def test_only_the_page_assets_are_served(client: TestClient) -> None:
    for name in ("ui.html", "py.typed", "secret.txt"):
        response = client.get(f"/ui/static/{name}")
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "not_found"
    assert client.get("/ui/static/..%2Fui.py").status_code == 404
    assert client.get("/ui/static/../ui.py").status_code == 404


def test_status_without_a_migration_says_so(client: TestClient) -> None:
    body = status(client)
    assert body["migration"] is None
    assert body["events"] == []
    assert body["eval_runs"] == []
    assert body["health"]["documents"] == 40
    assert [i["name"] for i in body["indexes"]] == ["v1"]
    assert body["indexes"][0]["p95_ms"] is None


def test_status_reflects_a_migration_driven_over_the_operator_api(client: TestClient) -> None:
    mid = client.post("/v1/migrations", json=TARGET, headers=OPERATOR).json()["id"]
    client.post(f"/v1/migrations/{mid}/backfill", headers=OPERATOR).raise_for_status()
    service_of(client).wait_backfill()
    client.post(f"/v1/migrations/{mid}/shadow", headers=OPERATOR).raise_for_status()
    client.post(
        f"/v1/migrations/{mid}/rollback", json={"reason": "status page test"}, headers=OPERATOR
    ).raise_for_status()
    for i in range(5):
        client.post("/v1/search", json={"query": f"tide {i}", "k": 3}).raise_for_status()

    body = status(client)  # no token
    m = body["migration"]
    assert (m["id"], m["phase"], m["source"], m["target"]) == (mid, "rolled_back", "v1", "v2")
    assert m["target_share"] == 0
    assert m["plan"]["canary_steps"] == [10, 50]
    assert m["backfill"]["finished"]
    assert m["backfill"]["done"] == 40
    assert m["live"]["target_lag_records"] == 0
    moves = [(e["from_phase"], e["to_phase"]) for e in body["events"]]
    assert moves == [  # newest first
        ("shadow", "rolled_back"),
        ("backfilling", "shadow"),
        ("planned", "backfilling"),
        (None, "planned"),
    ]
    rollback = body["events"][0]
    assert rollback["actor"] == "tester"
    assert rollback["reason"] == "status page test"
    assert isinstance(rollback["metrics"], dict)
    indexes = {i["name"]: i for i in body["indexes"]}
    assert set(indexes) == {"v1", "v2"}
    assert indexes["v2"]["factory"] == "HNSW32,Flat"
    assert indexes["v1"]["latency_samples"] >= 5
    assert indexes["v1"]["p95_ms"] > 0


def test_status_carries_eval_run_summaries_but_no_per_query_results(client: TestClient) -> None:
    mid = client.post("/v1/migrations", json=TARGET, headers=OPERATOR).json()["id"]
    svc = service_of(client)
    report = {
        "format": "switchover.eval-run/1",
        "meta": {"at": 1.0, "eval_set": "sample", "fingerprints": {"v1": "x"}},
        "summary": {"n": 2, "k": 10, "delta": {"recall@10": -0.5}},
        "judgement": {"decision": "fail", "metric": "recall@10", "mean_delta": -0.5},
        "queries": [{"query_id": "q1"}, {"query_id": "q2"}],
    }
    svc.store.evals.add_run("sample", "v1", "v2", mid, "watchdog", "fail", report)

    run = status(client)["eval_runs"][0]
    assert run["migration_id"] == mid
    assert run["decision"] == "fail"
    assert run["summary"] == report["summary"]
    assert run["judgement"] == report["judgement"]
    assert run["meta"] == {"at": 1.0, "eval_set": "sample"}
    assert "queries" not in run
    assert "report" not in run


def test_status_holds_no_token(client: TestClient, settings: Settings) -> None:
    client.post("/v1/migrations", json=TARGET, headers=OPERATOR).raise_for_status()
    text = client.get("/ui/status.json").text
    for token in settings.operator_tokens.values():
        assert token not in text
    assert "operator_tokens" not in text
    assert "Bearer" not in text


def test_the_snapshot_keeps_only_the_newest_events_and_eval_runs(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ui, "EVENT_LIMIT", 3)
    monkeypatch.setattr(ui, "EVAL_RUN_LIMIT", 2)
    mid = client.post("/v1/migrations", json=TARGET, headers=OPERATOR).json()["id"]
    for percent in (20, 30, 40, 60):
        plan = {"canary_steps": [percent]}
        client.patch(f"/v1/migrations/{mid}/plan", json=plan, headers=OPERATOR).raise_for_status()
    svc = service_of(client)
    for i in range(4):
        svc.store.evals.add_run("s", "v1", "v2", mid, "job", None, {"status": f"run {i}"})

    body = status(client)
    assert len(body["events"]) == 3
    assert body["events"][0]["id"] > body["events"][-1]["id"]
    assert [run["status"] for run in body["eval_runs"]] == ["run 3", "run 2"]
