"""Operator routes over HTTP: token-protected, audited, and mapped to clear statuses."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import service_of
from tests.conftest import OPERATOR

TARGET = {"target": {"name": "v2", "factory": "HNSW32,Flat", "metric": "ip"}}


pytestmark = pytest.mark.documents(60)


def wait_backfill(client: TestClient) -> None:
    service_of(client).wait_backfill()


def test_a_whole_migration_over_http(client: TestClient) -> None:
    created = client.post("/v1/migrations", json=TARGET, headers=OPERATOR)
    assert created.status_code == 201
    mid = created.json()["id"]
    assert client.post(f"/v1/migrations/{mid}/backfill", headers=OPERATOR).status_code == 200
    wait_backfill(client)
    status = client.get("/v1/migrations/current", headers=OPERATOR).json()
    assert status["backfill"]["finished"]
    assert status["backfill"]["done"] == 60
    client.post(f"/v1/migrations/{mid}/shadow", headers=OPERATOR)
    canary = client.post(
        f"/v1/migrations/{mid}/canary", json={"percent": 50, "override": True}, headers=OPERATOR
    )
    assert canary.json()["target_share"] == 50
    served = {
        client.post(
            "/v1/search", json={"query": "lamp", "k": 3}, headers={"X-Routing-Key": f"u{i}"}
        ).json()["served_by"]
        for i in range(100)
    }
    assert served == {"v1", "v2"}
    pinned = client.post("/v1/indexes/v2/search", json={"query": "gear number 7", "k": 1})
    assert pinned.json()["served_by"] == "v2"
    assert pinned.headers["x-served-by"] == "v2"
    client.post(f"/v1/migrations/{mid}/cutover", json={"override": True}, headers=OPERATOR)
    final = client.post(f"/v1/migrations/{mid}/finalize", headers=OPERATOR).json()
    assert final["phase"] == "finalized"
    events = client.get(f"/v1/migrations/{mid}/events", headers=OPERATOR).json()["events"]
    assert [e["to_phase"] for e in events] == [
        "planned",
        "backfilling",
        "shadow",
        "canary",
        "cutover",
        "finalized",
    ]
    assert all(e["actor"] == "tester" for e in events)
    assert events[3]["canary_percent"] == 50


def test_illegal_moves_are_409_naming_the_phase(client: TestClient) -> None:
    mid = client.post("/v1/migrations", json=TARGET, headers=OPERATOR).json()["id"]
    response = client.post(f"/v1/migrations/{mid}/cutover", headers=OPERATOR)
    assert response.status_code == 409
    assert "from phase 'planned'" in response.json()["error"]["message"]
    assert client.post("/v1/migrations", json=TARGET, headers=OPERATOR).status_code == 409


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/migrations/1/explode", {}, 404),
        ("/v1/migrations/99/shadow", {}, 404),
        ("/v1/migrations/1/canary", {"percent": "ten"}, 422),
        ("/v1/migrations/1/canary", {"percent": 150}, 422),
        ("/v1/migrations/1/rollback", {"why": "no"}, 422),
    ],
)
def test_bad_actions_are_4xx_and_change_nothing(
    client: TestClient, path: str, body: object, status: int
) -> None:
    client.post("/v1/migrations", json=TARGET, headers=OPERATOR)
    response = client.post(path, json=body, headers=OPERATOR)
    assert response.status_code == status
    assert client.get("/v1/migrations/current", headers=OPERATOR).json()["phase"] == "planned"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"target": {"factory": "Flat"}},
        {"target": {"name": "../../etc", "factory": "Flat"}},
        {"target": {"name": "v2", "factory": "Garbage42"}},
        {"target": {"name": "v2", "factory": "Flat", "metric": "cosine"}},
        {"target": {"name": "v2", "factory": "Flat", "embedder": {"model": "/nonexistent"}}},
        {**TARGET, "canary_steps": [0, 200]},
    ],
)
def test_bad_migration_requests_are_4xx_and_create_nothing(
    client: TestClient, body: object
) -> None:
    response = client.post("/v1/migrations", json=body, headers=OPERATOR)
    assert 400 <= response.status_code < 500
    assert client.get("/v1/migrations/current", headers=OPERATOR).status_code == 404
    assert [i["name"] for i in client.get("/v1/indexes").json()["indexes"]] == ["v1"]


def test_pinned_search_on_an_unknown_index_is_404(client: TestClient) -> None:
    response = client.post("/v1/indexes/nope/search", json={"query": "x", "k": 1})
    assert response.status_code == 404


def test_plan_changes_are_audited_and_validated(client: TestClient) -> None:
    mid = client.post("/v1/migrations", json=TARGET, headers=OPERATOR).json()["id"]
    response = client.patch(
        f"/v1/migrations/{mid}/plan", json={"shadow_sample": 1.0}, headers=OPERATOR
    )
    assert response.status_code == 200
    assert response.json()["plan"]["shadow_sample"] == 1.0
    event = client.get(f"/v1/migrations/{mid}/events", headers=OPERATOR).json()["events"][-1]
    assert event["reason"] == "plan: shadow_sample=1.0"
    assert (event["from_phase"], event["to_phase"]) == ("planned", "planned")
    for bad in ({"shadow_sample": 3}, {}, {"canary_steps": [9, 1]}, {"phase": "cutover"}):
        assert (
            client.patch(f"/v1/migrations/{mid}/plan", json=bad, headers=OPERATOR).status_code
            == 422
        )
    assert (
        client.patch(f"/v1/migrations/{mid}/plan", json={"shadow_sample": 0.5}).status_code == 401
    )
