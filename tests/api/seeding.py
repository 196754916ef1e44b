"""A seeded state for the API tests that meet real things: documents, an eval set, a migration."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import OPERATOR_TOKEN, SAMPLE_DIR

AUTH = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def seed_live_migration(client: TestClient, *, documents: int, sample: int) -> None:
    """``documents`` documents ``d0..``, the eval set ``sample`` (``sample`` questions) and a
    planned migration to ``v2`` (``Flat``) judged by it."""
    docs = [{"id": f"d{i}", "text": f"lamp tide gear number {i}"} for i in range(documents)]
    assert client.put("/v1/documents", json={"documents": docs}).status_code == 200
    body = {"name": "sample", "path": str(SAMPLE_DIR), "sample": sample, "seed": 1}
    assert client.post("/v1/eval-sets", json=body, headers=AUTH).status_code == 201
    target = {"target": {"name": "v2", "factory": "Flat"}, "eval_set": "sample"}
    assert client.post("/v1/migrations", json=target, headers=AUTH).status_code == 201
