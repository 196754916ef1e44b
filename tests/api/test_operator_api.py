"""Operator routes over HTTP: token-protected, audited, and mapped to clear statuses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api import create_app
from migrator import Settings
from tests.conftest import OPERATOR_TOKEN

AUTH = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
TARGET = {"target": {"name": "v2", "factory": "HNSW32,Flat", "metric": "ip"}}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        docs = [{"id": f"d{i}", "text": f"lamp tide gear number {i}"} for i in range(60)]
        c.put("/v1/documents", json={"documents": docs})
        yield c


def wait_backfill(client: TestClient) -> None:
    client.app.state.service.migrations.wait_backfill()  # type: ignore[attr-defined]


def test_a_whole_migration_over_http(client: TestClient) -> None:
    created = client.post("/v1/migrations", json=TARGET, headers=AUTH)
    assert created.status_code == 201
    mid = created.json()["id"]
    assert client.post(f"/v1/migrations/{mid}/backfill", headers=AUTH).status_code == 200
    wait_backfill(client)
    status = client.get("/v1/migrations/current", headers=AUTH).json()
    assert status["backfill"]["finished"]
    assert status["backfill"]["done"] == 60
    client.post(f"/v1/migrations/{mid}/shadow", headers=AUTH)
    canary = client.post(
        f"/v1/migrations/{mid}/canary", json={"percent": 50, "override": True}, headers=AUTH
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
    client.post(f"/v1/migrations/{mid}/cutover", json={"override": True}, headers=AUTH)
    final = client.post(f"/v1/migrations/{mid}/finalize", headers=AUTH).json()
    assert final["phase"] == "finalized"
    events = client.get(f"/v1/migrations/{mid}/events", headers=AUTH).json()["events"]
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
    mid = client.post("/v1/migrations", json=TARGET, headers=AUTH).json()["id"]
    response = client.post(f"/v1/migrations/{mid}/cutover", headers=AUTH)
    assert response.status_code == 409
    assert "from phase 'planned'" in response.json()["error"]["message"]
    assert client.post("/v1/migrations", json=TARGET, headers=AUTH).status_code == 409


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
    client.post("/v1/migrations", json=TARGET, headers=AUTH)
    response = client.post(path, json=body, headers=AUTH)
    assert response.status_code == status
    assert client.get("/v1/migrations/current", headers=AUTH).json()["phase"] == "planned"


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
    response = client.post("/v1/migrations", json=body, headers=AUTH)
    assert 400 <= response.status_code < 500
    assert client.get("/v1/migrations/current", headers=AUTH).status_code == 404
    assert [i["name"] for i in client.get("/v1/indexes").json()["indexes"]] == ["v1"]


def test_pinned_search_on_an_unknown_index_is_404(client: TestClient) -> None:
    response = client.post("/v1/indexes/nope/search", json={"query": "x", "k": 1})
    assert response.status_code == 404


def test_plan_changes_are_audited_and_validated(client: TestClient) -> None:
    mid = client.post("/v1/migrations", json=TARGET, headers=AUTH).json()["id"]
    response = client.patch(f"/v1/migrations/{mid}/plan", json={"shadow_sample": 1.0}, headers=AUTH)
    assert response.status_code == 200
    assert response.json()["plan"]["shadow_sample"] == 1.0
    event = client.get(f"/v1/migrations/{mid}/events", headers=AUTH).json()["events"][-1]
    assert event["reason"] == "plan: shadow_sample=1.0"
    assert (event["from_phase"], event["to_phase"]) == ("planned", "planned")
    for bad in ({"shadow_sample": 3}, {}, {"canary_steps": [9, 1]}, {"phase": "cutover"}):
        assert client.patch(f"/v1/migrations/{mid}/plan", json=bad, headers=AUTH).status_code == 422
    assert (
        client.patch(f"/v1/migrations/{mid}/plan", json={"shadow_sample": 0.5}).status_code == 401
    )
