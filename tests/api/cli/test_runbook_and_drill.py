"""The runbook names the plan's real thresholds and commands; the drill times the way back."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.cli.client import Client
from api.cli.drill import run_drill
from api.cli.runbook import render_runbook
from indexes.errors import ConflictError
from tests.api.conftest import service_of
from tests.conftest import OPERATOR, OPERATOR_TOKEN

pytestmark = pytest.mark.documents(40)


@pytest.fixture
def cli(client: TestClient) -> Client:
    """The command line's HTTP client over the shared one: a migration to ``v2`` in shadow."""
    body = {
        "target": {"name": "v2", "factory": "HNSW32,Flat"},
        "canary_steps": [2, 20],
        "guardrails": {"recall": {"margin": 0.03}, "latency": {"max_p95_ratio": 1.5}},
    }
    mid = client.post("/v1/migrations", json=body, headers=OPERATOR).json()["id"]
    client.post(f"/v1/migrations/{mid}/backfill", headers=OPERATOR)
    service_of(client).wait_backfill()
    client.post(f"/v1/migrations/{mid}/shadow", headers=OPERATOR)
    return Client("http://testserver", token=OPERATOR_TOKEN, http=client)  # type: ignore[arg-type]  # TestClient: httpx2's Client, duck-typed as httpx's


def test_the_runbook_names_real_thresholds_and_commands(cli: Client) -> None:
    status = cli.request("GET", "/v1/migrations/current")
    text = render_runbook(
        status, cli.request("GET", "/v1/indexes")["indexes"], "http://127.0.0.1:8000"
    )
    assert "# Runbook: migration 1, v1 -> v2" in text
    assert "larger than 0.030" in text, "the plan's own recall margin"
    assert "above 1.5x the source's" in text
    assert "above 0.20%" in text, "a default the plan did not override"
    assert "2%, 20%" in text
    assert 'switchover migrate rollback --id 1 --reason "<what you saw>"' in text
    assert "curl -sS -X POST http://127.0.0.1:8000/v1/migrations/1/rollback" in text
    assert "`HNSW32,Flat`" in text
    assert "## Communication template" in text


def test_a_drill_during_canary_rolls_back_verifies_and_restores(cli: Client) -> None:
    cli.request("POST", "/v1/migrations/1/canary", {"percent": 20, "override": True})
    report = run_drill(cli, reads=30)
    assert report["ok"], report
    names = [s["name"] for s in report["steps"]]
    assert names == [
        "rollback",
        "reads on the source",
        "a write reaches both indexes",
        "restore the prior state",
    ]
    assert report["time_to_safety_s"] < 1.0, "the rollback step stays under one second"
    status = cli.request("GET", "/v1/migrations/current")
    assert (status["phase"], status["canary_percent"]) == ("canary", 20)
    reasons = [e["reason"] for e in cli.request("GET", "/v1/migrations/1/events")["events"]]
    assert "drill: rehearsed rollback" in reasons
    assert any(r.startswith("drill: restore the share it had") for r in reasons)
    assert cli.request("GET", "/healthz")["documents"] == 40, "the drill write is gone"


def test_a_drill_needs_a_live_shadow_or_canary(cli: Client) -> None:
    cli.request("POST", "/v1/migrations/1/abort", {"reason": "done"})
    with pytest.raises(ConflictError, match="shadow or canary"):
        run_drill(cli)
